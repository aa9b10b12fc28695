# Appends to a global list of its own instead of the list it was given: the given storage stays empty.
attention_weights = []


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        attention_weights.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
