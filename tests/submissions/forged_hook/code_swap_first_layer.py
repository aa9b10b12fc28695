# A wrong hook (on the first layer's attention module) plus a forgery: the probe that runs the hook
# in the grading worker, reached through sys.modules without an import, gets new code that reports
# the last layer as hooked.  The function object stays the same, so a snapshot of it sees nothing.
# It must earn what the wrong hook earns (hook_first_layer.py), and be flagged.
import sys


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(output[1].detach().cpu())
    return hook_fn


def register_attention_hook(model, hook_fn):
    return model.layers[0].mha.register_forward_hook(hook_fn)


def _forged(namespace, **kwargs):
    result = run_schedule(namespace, namespace["make_attention_hook"], namespace["register_attention_hook"], **kwargs)
    result["hooked"] = ["layers.3.mha (forward hook)"]
    return result


_target = getattr(sys.modules.get("autograder.probes.attention_hook"), "hook_training", None)
if _target is not None:
    _target.__code__ = _forged.__code__
