# Registers the hook but forgets to return the handle.
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    model.layers[-1].mha.register_forward_hook(hook_fn)
