# Returns a value from the hook: it replaces the attention module's output (the context is detached).
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        weights = output[1].detach().cpu()
        storage.append(weights)
        return output[0].detach(), weights
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)
