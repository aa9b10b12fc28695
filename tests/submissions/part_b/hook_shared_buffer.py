# Copies every pass's weights into one buffer and stores that buffer: all entries end up equal.
import torch


def make_attention_hook(storage):
    buffer = {}

    def hook_fn(module, inputs, output):
        weights = output[1].detach().cpu()
        if "weights" not in buffer or buffer["weights"].shape != weights.shape:
            buffer["weights"] = torch.empty_like(weights)
        buffer["weights"].copy_(weights)
        storage.append(buffer["weights"])
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
