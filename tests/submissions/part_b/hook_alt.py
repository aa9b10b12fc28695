# Correct, written differently: unpacks the output, .to("cpu"), clone, indexes the last layer explicitly.
import torch


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        context, weights = output
        with torch.no_grad():
            storage.append(weights.detach().to("cpu").clone())
    return hook_fn


def register_attention_hook(model, hook_fn):
    last_layer = model.layers[len(model.layers) - 1]
    handle = last_layer.mha.register_forward_hook(hook_fn)
    return handle
