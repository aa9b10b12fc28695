# Wrong: the hook returns the weights, so they replace the attention module's output (torch then fails).
import torch


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
        return output[1]
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
