"""A wrong hook, plus a swap of the probe function's __code__ (the function object stays the same, so a
snapshot of the probe table sees nothing), reached through sys.modules without an import (issue 14, item 2)."""
import sys


def make_attention_hook(storage):
    def hook_fn(module, inputs, output):
        storage.append(inputs[0].detach())  # wrong: the input, not the attention weights
    return hook_fn


def _answer(namespace, **kwargs):
    return {"hooked": "layers.3.mha", "removed": True}


for _module in list(sys.modules.values()):
    _table = getattr(_module, "PRO" + "BES", None)
    if isinstance(_table, dict) and "attention_hook" in _table:
        _table["attention_hook"].__code__ = _answer.__code__
