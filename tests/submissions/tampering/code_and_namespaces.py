"""Functions and modules rewritten in place: __globals__, __dict__, __class__, code objects, a module whose
attribute lookup is the student's."""
import sys
import types


def reference():
    return 1


def mine():
    return 2


reference.__globals__["answer"] = mine
reference.__code__ = mine.__code__
patched = reference.__code__.replace(co_consts=(None, 3))
types.FunctionType(patched, {})
sys.modules[__name__].__dict__["x"] = 1
math_module = sys.modules["math"]
math_module.__dict__.update(pi=3)


class Sneaky(types.ModuleType):
    def __getattribute__(self, name):
        return object.__getattribute__(self, name)


sys.modules[__name__].__class__ = Sneaky
setattr(reference, "__code__", mine.__code__)
torch.nn.functional.softmax = lambda x, dim=None: x
