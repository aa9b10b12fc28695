# Stores on every forward pass, and also on every backward pass (through a backward hook it never removes).
def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    mha = model.layers[-1].mha
    mha.register_full_backward_hook(lambda module, grad_input, grad_output: hook_fn(module, None, (None, grad_output[0])))
    return mha.register_forward_hook(hook_fn)
