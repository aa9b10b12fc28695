# Stores the context vector output[0] instead of the attention weights output[1].
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[0].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
