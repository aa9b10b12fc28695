# Draws random numbers inside the hook (a "random head" to plot): this shifts the dropout masks.
import torch


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        head = int(torch.randint(0, output[1].shape[1], (1,)))
        storage.append(output[1].detach().cpu())
        module.last_head = head
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
