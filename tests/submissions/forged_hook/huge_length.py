# A correct hook plus a forged reply: one storage length of 2e8, which a grader that trusts it turns
# into a list of that size (gigabytes).  The reply is refused before anything is built from it:
# every hook check scores 0 (nothing in a forged reply can be believed), and the submission is flagged.
import sys


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[-1].mha.register_forward_hook(hook_fn)


_table = getattr(sys.modules.get("autograder.probes"), "PROBES", {})
_real = _table.get("hook_training")
if _real is not None:
    def _wrapper(namespace, **kwargs):
        result = _real(namespace, **kwargs)
        result["lengths"][-1] = 200_000_000
        return result
    _table["hook_training"] = _wrapper
