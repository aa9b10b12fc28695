# Wrong module: the last encoder layer itself (its output[1] is also the attention weights).
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].register_forward_hook(hook_fn)
