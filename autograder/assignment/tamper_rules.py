"""What the tampering scan looks for: the tools a forger needs, each with the reason shown in its flag.

Kept apart from the scan (:mod:`autograder.assignment.tamper_scan`) so that the list can be read,
and reviewed, as a list.  Every entry is something no honest notebook of this course needs:
reaching other frames, rewriting functions or modules, finding the grader's objects, silencing
the worker's descriptors, native memory, signals and processes, and code or names hidden from
a reader.  Ordinary idioms stay out: ``getattr(self, f"W_{x}")``, ``os.environ.get``, ``os.path``,
``sys.stdout``, ``"google.colab" in sys.modules``, ``object.__setattr__`` in a frozen dataclass.
"""
from __future__ import annotations

FRAMES = "frame or interpreter introspection"
CODE = "rewrites the code or namespace of a function, class or module"
GRADER = "reaches for the grader's modules"
PROC = "a path into the process's own descriptors or memory"
FDS = "replaces or closes file descriptors"
NATIVE = "native memory access"
SIGNALS = "signal handlers or timers"
PROCESSES = "processes, signals or limits beyond its own code"
HIDDEN_CODE = "runs code the scan cannot read"
HIDDEN_NAME = "a name built to hide what it names"
COMPUTED = "a name computed at run time"
PATCH = "replaces a library function the grader compares with"
HOOKS = "a hook on every module, the grader's own included"
STAR = "a star import of a module the scan watches"
UNSCANNABLE = "the scan could not read this cell"

# Dotted names (after resolving the code's imports and aliases); a key ending in "." covers a module and
# everything in it.
DOTTED: dict[str, str] = {
    **dict.fromkeys(("sys._getframe", "sys._current_frames", "sys._current_exceptions", "sys.settrace",
                     "sys.setprofile", "sys.gettrace", "sys.getprofile", "sys.call_tracing", "sys.monitoring.",
                     "sys._getframemodulename", "threading.settrace", "threading.setprofile",
                     "threading.settrace_all_threads", "threading.setprofile_all_threads", "inspect.stack",
                     "inspect.trace", "inspect.currentframe", "inspect.getouterframes", "inspect.getinnerframes",
                     "inspect.getframeinfo", "inspect.getargvalues", "inspect.getgeneratorlocals",
                     "inspect.getcoroutinelocals", "inspect.getclosurevars", "traceback.walk_stack",
                     "traceback.walk_tb", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                     "sys.addaudithook", "_testcapi.", "_xxsubinterpreters."), FRAMES),
    **dict.fromkeys(("types.FunctionType", "types.CodeType", "types.CellType", "types.LambdaType",
                     "sys.meta_path", "sys.path_hooks", "sys.path_importer_cache", "builtins.__dict__"), CODE),
    **dict.fromkeys(("autograder.", "nbgrader.", "hypothesis.", "pytest.", "_pytest."), GRADER),
    **dict.fromkeys(("os.dup", "os.dup2", "os.close", "os.closerange", "os.open", "os.fdopen", "os.ftruncate",
                     "os.set_inheritable", "os.set_blocking", "os.openpty", "os.pipe", "os.pipe2", "os.memfd_create",
                     "os.sendfile", "os.splice", "os.copy_file_range", "fcntl.", "io.FileIO",
                     "_io.FileIO"), FDS),
    **dict.fromkeys(("ctypes.", "_ctypes.", "cffi.", "mmap.", "numpy.ctypeslib.", "torch.from_file"), NATIVE),
    **dict.fromkeys(("signal.signal", "signal.setitimer", "signal.alarm", "signal.set_wakeup_fd",
                     "signal.pthread_kill", "signal.pthread_sigmask", "signal.siginterrupt", "signal.raise_signal",
                     "faulthandler.register", "faulthandler.dump_traceback_later"), SIGNALS),
    **dict.fromkeys(("os.kill", "os.killpg", "os.getppid", "os.fork", "os.forkpty", "os.system", "os.popen",
                     "os.setsid", "os.setpgid", "os.setpgrp", "os.pidfd_open", "subprocess.", "pty.",
                     "resource.setrlimit", "resource.prlimit", "os.sched_setaffinity", "os.setpriority",
                     "multiprocessing.shared_memory.", "_posixsubprocess."), PROCESSES),
    **dict.fromkeys(("builtins.exec", "builtins.eval", "builtins.compile", "marshal.",
                     "pickle.loads", "_pickle.loads", "dill.loads", "cloudpickle.loads", "runpy.",
                     "code.InteractiveInterpreter", "code.InteractiveConsole", "code.interact", "codeop.",
                     "importlib.util.", "importlib.machinery.", "importlib._bootstrap.", "builtins.__import__",
                     "zipimport."), HIDDEN_CODE),
    **dict.fromkeys(("torch.nn.modules.module.register_module_forward_hook",
                     "torch.nn.modules.module.register_module_forward_pre_hook",
                     "torch.nn.modules.module.register_module_full_backward_hook",
                     "torch.nn.modules.module.register_module_full_backward_pre_hook",
                     "torch.nn.modules.module.register_module_backward_hook",
                     "torch.nn.modules.module.register_module_buffer_registration_hook",
                     "torch.nn.modules.module.register_module_module_registration_hook",
                     "torch.nn.modules.module.register_module_parameter_registration_hook",
                     "torch.overrides.", "torch._C._set_torch_function_mode",
                     "torch.utils._python_dispatch.", "torch._C._autograd._push_saved_tensors_default_hooks",
                     "torch.autograd.graph.saved_tensors_hooks", "torch.autograd.graph.register_multi_grad_hook"),
                    HOOKS),
}
PREFIX_PREFERRED = ("os.exec", "os.spawn", "os.posix_spawn", "os.wait")  # os.execv, os.spawnlp, ...: PROCESSES

# Attribute names that mean the same, whatever object they are read from or written to.
ATTRIBUTES: dict[str, str] = {
    **dict.fromkeys(("f_back", "f_locals", "f_globals", "f_builtins", "f_code", "f_trace", "f_lasti", "tb_frame",
                     "gi_frame", "cr_frame", "ag_frame", "gi_code", "cr_code", "__subclasses__", "_getframe"), FRAMES),
    **dict.fromkeys(("__code__", "__globals__", "__closure__", "__builtins__", "cell_contents", "co_code",
                     "co_consts", "co_names", "func_globals", "func_code"), CODE),
    **dict.fromkeys(("PROBES",), GRADER),
    **dict.fromkeys(("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                     "_global_backward_pre_hooks", "_global_forward_hooks_always_called",
                     "_global_module_registration_hooks", "_global_parameter_registration_hooks",
                     "_global_buffer_registration_hooks", "register_module_forward_hook",
                     "register_module_forward_pre_hook", "register_module_full_backward_hook",
                     "register_module_full_backward_pre_hook", "register_module_backward_hook"), HOOKS),
}

# Replacing a function or class attribute of these changes what the grader's comparisons or the course code
# see in the worker (what the worker's monitor takes a snapshot of).
PATCHABLE = frozenset({"builtins", "math", "numpy", "numpy.testing", "numpy.random", "torch", "torch.nn",
                       "torch.nn.functional", "torch.Tensor", "torch.nn.Module", "torch.nn.Linear", "torch.testing",
                       "torch.autograd", "torch.optim"})

# Dunder attributes an honest decorator or class may set on something not its own self.
PLAIN_DUNDERS = frozenset({"__doc__", "__name__", "__qualname__", "__module__", "__annotations__", "__signature__",
                           "__wrapped__", "__all__", "__version__"})

# Names that are plain module names wherever the code does not bind them (the course's setup cell imports some).
MODULES = frozenset({"os", "sys", "gc", "inspect", "ctypes", "importlib", "builtins", "signal", "subprocess",
                     "threading", "types", "fcntl", "mmap", "marshal", "pickle", "resource", "traceback", "io"})

# A name or string that, when built from pieces, shows that the pieces were there to hide it.
HIDEABLE = frozenset({"exec", "eval", "compile", "__import__", "import_module", "getattr", "setattr", "delattr",
                      "globals", "locals", "vars", "open", "system", "popen", "dup", "dup2", "fork", "kill", "killpg",
                      "settrace", "setprofile", "get_objects", "get_referrers", "get_referents", "currentframe",
                      "stack", "modules", "builtins", "os", "sys", "gc", "inspect", "ctypes", "importlib",
                      "subprocess", "signal", "fcntl", "mmap", "cffi", "marshal", "pickle", "threading", "write",
                      "close", "loads", "__dict__", "__class__", "__getattribute__", "__setattr__", "__init__",
                      "__call__", "__self__", "__func__", "__wrapped__", "__reduce__", *ATTRIBUTES})
HIDING_CALLS = frozenset({"chr", "join", "decode", "fromhex", "b64decode", "b32decode", "b16decode", "a85decode",
                          "b85decode", "urlsafe_b64decode", "unhexlify", "a2b_hex", "a2b_base64", "bytes", "bytearray",
                          "reversed", "translate", "maketrans", "encode", "rot13"})
