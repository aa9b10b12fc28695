# A wrong hook (on the first layer) plus a forgery: the grader's probe table entry is replaced by a
# wrapper that runs the real probe and rewrites which module was hooked.  Must earn what the wrong
# hook earns (hook_first_layer.py), and be flagged.
import sys


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[0].mha.register_forward_hook(hook_fn)


_table = getattr(sys.modules.get("autograder.probes"), "PROBES", {})
_real = _table.get("hook_training")
if _real is not None:
    def _wrapper(namespace, **kwargs):
        result = _real(namespace, **kwargs)
        result["hooked"] = ["layers.3.mha (forward hook)"]
        return result
    _table["hook_training"] = _wrapper
