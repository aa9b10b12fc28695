# Stores the weights still attached to the autograd graph: .numpy() raises.
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1])
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
