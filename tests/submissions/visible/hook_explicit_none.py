# Correct, written differently: the hook unpacks its output, copies the weights with .clone() and returns None explicitly.
import torch


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        _, weights = output
        storage.append(weights.detach().clone().cpu())
        return None
    return hook_fn


def register_attention_hook(model, hook_fn):
    layer = model.layers[-1]
    return layer.mha.register_forward_hook(hook_fn)
