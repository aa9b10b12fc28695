# Wrong module: the first layer's attention (what the original assignment's single-layer model had).
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[0].mha.register_forward_hook(hook_fn)
