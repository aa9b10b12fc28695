# The model answer: forward hook on the last layer's attention, weights detached, on the CPU.
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
