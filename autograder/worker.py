"""The process that runs one part of one student's code, and nothing else.

It is started by :mod:`autograder.sandbox`, sets its own limits, runs the trusted course
code, locks itself down, runs the student's definitions, then answers probe requests.
Everything it sends back is treated by the grader as the student's answer: data to judge,
never a verdict.

Locking down, in this order, once the trusted code has run (the process must still be
single-threaded, since capabilities, Landlock and seccomp are per-thread):

- answers out of reach: modules holding model answers (``autograder.assignment.reference``, which the
  trusted code of Part B and C imports) are cut down to what the trusted code took from
  them and dropped from ``sys.modules``;
- no capabilities (a worker started as root keeps its uid but loses root's powers);
- Landlock: read-only Python installation and system libraries, read-write scratch
  directory, no TCP, no signals or abstract sockets out of the sandbox;
- seccomp: no sockets, no permission/owner/timestamp changes (Landlock does not cover
  them), no new processes or programs (unless the limits allow them), no signals or
  priority/limit changes aimed at other processes, none of the kernel interfaces a
  Python program has no use for (io_uring, bpf, user namespaces, keyrings, ...).

Then a Python audit hook and a snapshot of the libraries' functions watch what the
student's code tries (reading the grader's files, starting processes, replacing
``torch.allclose``...).  They prevent nothing, the kernel does; they write what they see
to the incidents file in the scratch directory, which the grader reads for its flags.
"""
from __future__ import annotations

import ast
import ctypes
import io
import os
import platform
import resource
import signal
import struct
import sys
import traceback
import types
from typing import Any

from autograder import protocol

_PR_CAPBSET_DROP = 24
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
INCIDENTS_FILE = ".incidents"
MAX_INCIDENTS = 20
SEALED_MODULES = ("autograder.assignment.reference",)


def _is_definition(node: ast.stmt) -> bool:
    """Whether a top-level statement defines something rather than doing work.

    Calls at the top level (training runs, downloads, prints, shell magics) are what make
    an exported notebook slow or unsafe to import, so assignments are kept only when their
    value calls nothing.
    """
    if isinstance(node, _KEPT_STATEMENTS):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return not any(isinstance(sub, ast.Call) for sub in ast.walk(node.value))
    return False


def _student_traceback(exc: BaseException) -> str:
    traceback.clear_frames(exc.__traceback__)  # let go of what the code held (a memory bomb's hoard)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith(os.path.dirname(__file__))]
    lines = traceback.format_list(frames[-6:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-4000:]


def exec_definitions(source: str, label: str, namespace: dict[str, Any]) -> list[str]:
    """Run the definitions in ``source`` one statement at a time; return the errors met."""
    try:
        tree = ast.parse(source, filename=f"<{label}>")
    except SyntaxError as exc:
        return [f"{label}: syntax error on line {exc.lineno}: {exc.msg}"]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [f"{label}: cannot be parsed ({type(exc).__name__})"]
    errors = []
    for node in tree.body:
        if not _is_definition(node):
            continue
        module = ast.Module(body=[node], type_ignores=[])
        try:
            exec(compile(module, f"<{label}>", "exec"), namespace)
        except BaseException as exc:  # student code may raise SystemExit or KeyboardInterrupt
            if not isinstance(exc, Exception):
                MONITOR.note(f"your code raised {type(exc).__name__} while loading (it does not stop the grading)")
            errors.append(f"{label}, line {node.lineno}:\n{_student_traceback(exc)}")
    return errors


# --------------------------------------------------------------------------- limits and output

def _set_limits(limits: dict[str, int]) -> None:
    limits = dict(limits, RLIMIT_NPROC=_process_budget(limits.pop("RLIMIT_NPROC")))
    for name, value in limits.items():
        kind = getattr(resource, name)
        resource.setrlimit(kind, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _process_budget(extra: int) -> int:
    """RLIMIT_NPROC counts every task of the uid, so the budget is on top of what it already runs.

    (Linux does not enforce RLIMIT_NPROC for root at all; there the grader's watchdog counts.)
    """
    import psutil

    uid = os.getuid()
    running = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        if process.info["uids"] and process.info["uids"].real == uid:
            running += process.info["num_threads"] or 1
    return running + extra


class _CappedOutput(io.TextIOBase):
    """sys.stdout/sys.stderr for student code: keeps the first bytes, drops the rest silently.

    Printing gigabytes costs the student's own time, never the grader's disk, and does not
    make ``print`` fail (which would cost points the code earned).
    """

    def __init__(self, fd: int, budget: list[int], name: str) -> None:
        super().__init__()
        self._fd, self._budget, self.name = fd, budget, name
        self.buffer = _CappedBinary(self)

    encoding = property(lambda self: "utf-8")
    errors = property(lambda self: "backslashreplace")
    line_buffering = property(lambda self: False)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def flush(self) -> None:
        pass

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.emit(text.encode("utf-8", "backslashreplace"))
        return len(text)

    def emit(self, data: bytes) -> None:
        remaining = self._budget[0]
        if remaining < 0 or not data:
            return
        view = memoryview(data)[:remaining]
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            pass
        if len(data) > remaining:
            MONITOR.note("your code printed more output than is kept; the rest was discarded")
            self._budget[0] = -1
        else:
            self._budget[0] = remaining - len(data)


class _CappedBinary(io.RawIOBase):
    def __init__(self, text: _CappedOutput) -> None:
        super().__init__()
        self._text = text

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._text.fileno()

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._text.emit(data)
        return len(data)


def _redirect_output(scratch: str, budget: int) -> None:
    log = os.open(os.path.join(scratch, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    shared = [budget]
    sys.stdout = _CappedOutput(1, shared, "<stdout>")
    sys.stderr = _CappedOutput(2, shared, "<stderr>")


# --------------------------------------------------------------------------- answers out of reach

def seal_modules(namespace: dict[str, Any], names: tuple[str, ...] = SEALED_MODULES) -> None:
    """Cut modules holding model answers down to what the trusted code took from them.

    Part B's trusted code imports our attention from ``autograder.assignment.reference``, which also
    holds the answers to Part B.  Dropping the module from ``sys.modules`` is not enough
    (``MultiHeadAttention.forward.__globals__`` is its namespace), so every global that the
    objects the namespace took from it do not use is deleted from the module itself.
    """
    for name in names:
        module = sys.modules.pop(name, None)
        if module is None:
            continue
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is module:
            delattr(sys.modules[parent], child)
        globals_ = module.__dict__
        roots = [value for value in namespace.values() if getattr(value, "__module__", None) == name]
        keep = {key for key in globals_ if key.startswith("__")} | _names_used(roots, globals_)
        keep |= {key for key, value in globals_.items() if any(value is root for root in roots)}
        for key in list(globals_):
            if key not in keep:
                del globals_[key]


def _names_used(roots: list[Any], globals_: dict[str, Any]) -> set[str]:
    """Globals of a module reachable from the code of ``roots`` (functions, classes, methods)."""
    used: set[str] = set()
    pending, seen = list(roots), set()
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        for code in _code_objects(item):
            for name in code.co_names:
                if name in globals_ and name not in used:
                    used.add(name)
                    pending.append(globals_[name])
        if isinstance(item, type):
            pending += [base for base in item.__mro__[1:] if base.__module__ == item.__module__]
    return used


def _code_objects(item: Any) -> list[types.CodeType]:
    functions: list[Any] = []
    if isinstance(item, type):
        for value in vars(item).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                functions += [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            elif isinstance(value, types.FunctionType):
                functions.append(value)
    elif isinstance(item, types.FunctionType):
        functions.append(item)
    codes: list[types.CodeType] = []
    pending = [function.__code__ for function in functions]
    while pending:
        code = pending.pop()
        codes.append(code)
        pending += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return codes


# --------------------------------------------------------------------------- confinement

def _become_subreaper() -> None:
    """Orphans of the student's processes (a double-forked daemon) stay in this worker's tree."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _drop_capabilities() -> None:
    """Give up every capability, so a worker started as root cannot raise its limits or escape them.

    The uid stays the same (so the Python installation stays readable); without
    capabilities, root is held by the same rlimits as anyone, and Landlock does the rest.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(64):
        libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _lock_down(scratch: str, readable: list[str]) -> tuple[int, str]:
    """Confine the process with Landlock; returns the ABI and a note on what could be enforced."""
    import landlockpy

    abi = landlockpy.abi_version()
    if abi == 0:
        return 0, "landlock unavailable: file, network and signal confinement not enforced"
    fs = landlockpy.AccessFS
    with landlockpy.Ruleset(scoped=landlockpy.Scope.SIGNAL | landlockpy.Scope.ABSTRACT_UNIX_SOCKET) as ruleset:
        for path in readable:
            if os.path.isdir(path):
                ruleset.allow_path(path, fs.READ_FILE | fs.READ_DIR | fs.EXECUTE)
            elif os.path.exists(path):
                ruleset.allow_path(path, fs.READ_FILE | fs.EXECUTE)
        ruleset.allow_path(scratch, landlockpy.fs_for_abi(abi))
        for device in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"):
            ruleset.allow_path(device, fs.READ_FILE | fs.WRITE_FILE)
        ruleset.restrict(landlockpy.RestrictFlag.TSYNC)
    missing = []
    if abi < 4:
        missing.append("TCP")
    if abi < 6:
        missing.append("signal scoping")
    note = f"landlock ABI {abi} enforced" + (f" (without {', '.join(missing)})" if missing else "")
    return abi, note


# seccomp: syscall numbers per architecture (x86_64, aarch64); None where the call does not exist.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SECCOMP_SYSCALL = {"x86_64": 317, "aarch64": 277}
_DENIED = {  # EPERM, always
    "socket": (41, 198), "chmod": (90, None), "fchmod": (91, 52), "fchmodat": (268, 53), "fchmodat2": (452, 452),
    "chown": (92, None), "fchown": (93, 55), "lchown": (94, None), "fchownat": (260, 54),
    "setxattr": (188, 5), "lsetxattr": (189, 6), "fsetxattr": (190, 7), "removexattr": (197, 14),
    "lremovexattr": (198, 15), "fremovexattr": (199, 16), "setxattrat": (463, 463), "removexattrat": (466, 466),
    "utime": (132, None), "utimes": (235, None), "futimesat": (261, None), "utimensat": (280, 88),
    "memfd_create": (319, 279), "memfd_secret": (447, 447),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "unshare": (272, 97), "setns": (308, 268), "keyctl": (250, 219), "add_key": (248, 217),
    "request_key": (249, 218), "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "inotify_add_watch": (254, 27), "fanotify_init": (300, 262), "fanotify_mark": (301, 263),
    "syslog": (103, 116), "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "process_madvise": (440, 440), "pidfd_getfd": (438, 438), "pidfd_send_signal": (424, 424),
    "open_by_handle_at": (304, 265), "setpriority": (141, 140), "ioprio_set": (251, 30),
    "migrate_pages": (256, 238), "move_pages": (279, 239), "tkill": (200, 130),
}
_NO_SYSCALL = {"clone3": (435, 435)}  # ENOSYS: its flags cannot be inspected; the C library falls back to clone
_NEW_PROCESS = {"fork": (57, None), "vfork": (58, None), "execve": (59, 221), "execveat": (322, 281)}
_OWN_PID_ONLY = {  # the first argument is a pid: allowed for this process only (when it may not have children)
    "kill": (62, 129), "tgkill": (234, 131), "rt_sigqueueinfo": (129, 138), "rt_tgsigqueueinfo": (297, 240),
}
_SELF_ONLY = {  # the first argument is a pid: 0 (this process) only
    "prlimit64": (302, 261), "sched_setaffinity": (203, 122), "sched_setscheduler": (144, 119),
    "sched_setparam": (142, 118), "sched_setattr": (314, 274),
}
_CLONE = (56, 220)
_CLONE_THREAD = 0x00010000
_CLONE_NEW_NAMESPACES = 0x7E020000  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38


def seccomp_program(arch: str, pid: int, spawn: bool) -> list[tuple[int, int, int, int]]:
    """The BPF program of the worker's seccomp filter (classic BPF, as (code, jt, jf, k))."""
    column = {"x86_64": 0, "aarch64": 1}[arch]

    def numbers(table: dict[str, tuple[int | None, int | None]]) -> list[int]:
        return [entry[column] for entry in table.values() if entry[column] is not None]

    program: list[tuple] = [("ld", 4), ("jeq", _AUDIT_ARCH[arch], None, "deny"), ("ld", 0)]
    if arch == "x86_64":
        program.append(("jge", 0x40000000, "deny", None))  # the x32 ABI
    program += [("jeq", nr, "deny", None) for nr in numbers(_DENIED)]
    program += [("jeq", nr, "nosys", None) for nr in numbers(_NO_SYSCALL)]
    if not spawn:
        program += [("jeq", nr, "deny", None) for nr in numbers(_NEW_PROCESS)]
        program += [("jeq", nr, "own_pid", None) for nr in numbers(_OWN_PID_ONLY)]
    program += [("jeq", nr, "self_only", None) for nr in numbers(_SELF_ONLY)]
    program += [("jeq", _CLONE[column], "clone", None), ("ret", _RET_ALLOW)]
    program += [("label", "clone"), ("ld", 16), ("jset", _CLONE_NEW_NAMESPACES, "deny", None)]
    program += [("ret", _RET_ALLOW)] if spawn else [("jset", _CLONE_THREAD, "allow", "deny")]
    program += [("label", "own_pid"), ("ld", 16), ("jeq", pid, "allow", None), ("jeq", 0, "allow", None),
                ("jeq", (-pid) & 0xFFFFFFFF, "allow", "deny")]
    program += [("label", "self_only"), ("ld", 16), ("jeq", 0, "allow", None)]
    program += [("jeq", pid, "allow", "deny")] if not spawn else [("ret", _RET_ERRNO | _EPERM)]
    program += [("label", "deny"), ("ret", _RET_ERRNO | _EPERM), ("label", "nosys"), ("ret", _RET_ERRNO | _ENOSYS),
                ("label", "allow"), ("ret", _RET_ALLOW)]
    return _assemble(program)


def _assemble(program: list[tuple]) -> list[tuple[int, int, int, int]]:
    labels, position = {}, 0
    for item in program:
        if item[0] == "label":
            labels[item[1]] = position
        else:
            position += 1
    codes = {"ld": 0x20, "jeq": 0x15, "jge": 0x35, "jset": 0x45, "ret": 0x06}
    out: list[tuple[int, int, int, int]] = []
    for item in program:
        if item[0] == "label":
            continue
        here = len(out)
        if item[0] in ("ld", "ret"):
            out.append((codes[item[0]], 0, 0, item[1]))
            continue
        jumps = []
        for target in item[2:]:
            offset = 0 if target is None else labels[target] - here - 1
            if not 0 <= offset <= 255:
                raise ValueError(f"seccomp jump of {offset} instructions")
            jumps.append(offset)
        out.append((codes[item[0]], jumps[0], jumps[1], item[1] & 0xFFFFFFFF))
    return out


def _install_seccomp(spawn: bool) -> str:
    arch = platform.machine()
    if arch not in _AUDIT_ARCH:
        return f"seccomp filter not available on {arch}"
    program = seccomp_program(arch, os.getpid(), spawn)
    raw = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    filters = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.cast(filters, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.syscall.restype = ctypes.c_long
    # seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog)
    if libc.syscall(ctypes.c_long(_SECCOMP_SYSCALL[arch]), 1, 1, ctypes.byref(fprog)) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter could not be installed")
    return "seccomp filter enforced" + ("" if spawn else " (no new processes)")


# --------------------------------------------------------------------------- watching the student's code

_MISSING = object()


def _same_or_torch_wrapped(owner: str, key: str, current: Any, original: Any) -> bool:
    """Unchanged, or torch's own rebinding: importing ``torch._dynamo`` (which the first
    optimizer step does) wraps ``torch.manual_seed`` in a function of torch's.  Importing it
    before the snapshot instead would cost every worker 0.8 s."""
    if current is original:
        return True
    if (owner, key) != ("torch", "manual_seed") or getattr(current, "__wrapped__", None) is not original:
        return False
    import torch
    code = getattr(current, "__code__", None)
    return code is not None and code.co_filename.startswith(os.path.dirname(torch.__file__) + os.sep)


_WATCHED_EVENTS = frozenset({
    "open", "os.listdir", "os.scandir", "os.remove", "os.rename", "os.rmdir", "os.truncate", "os.mkdir",
    "os.link", "os.symlink", "os.chmod", "os.chown", "os.utime", "os.setxattr", "os.removexattr",
    "os.kill", "os.killpg", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
    "subprocess.Popen", "socket.__new__", "socket.connect", "socket.bind", "import", "object.__setattr__",
    "object.__delattr__", "ctypes.dlopen", "ctypes.dlsym", "ctypes.string_at", "ctypes.addressof",
    "ctypes.cdata", "resource.prlimit", "resource.setrlimit", "signal.pthread_kill", "sys.addaudithook",
})
_STARTS_PROCESS = frozenset({"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
                             "subprocess.Popen"})
_MODIFIES = {"os.remove": "delete", "os.rename": "rename", "os.rmdir": "delete", "os.truncate": "truncate",
             "os.mkdir": "create a directory in", "os.link": "link", "os.symlink": "link",
             "os.chmod": "change the permissions of", "os.chown": "change the owner of",
             "os.utime": "change the timestamps of", "os.setxattr": "change the attributes of",
             "os.removexattr": "change the attributes of"}
_GRADER_TOOLS = ("autograder", "nbgrader", "hypothesis", "pytest")


class Monitor:
    """Notes what the student's code tries, for the grader's flags (it enforces nothing).

    Incidents go to a file in the scratch directory as they happen, so that they survive a
    worker that dies right after (a segfault through ctypes); each is written once, at most
    MAX_INCIDENTS of them, worded without pids or timings so that grading is repeatable.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.seen: set[str] = set()
        self.student_files: frozenset[str] = frozenset()
        self.guarded: tuple[str, ...] = ()
        self.readable: tuple[str, ...] = ()
        self.scratch = ""
        self.spawn = False
        self.snapshot: dict[tuple[str, str], Any] = {}
        self.watched: dict[str, dict[str, Any]] = {}
        self.replaced: set[str] = set()
        self.active = False
        self._busy = False

    def note(self, text: str) -> None:
        text = " ".join(text.split())[:500]
        if text in self.seen or len(self.seen) >= MAX_INCIDENTS or self.fd is None:
            return
        self.seen.add(text)
        try:
            os.write(self.fd, (text + "\n").encode("utf-8", "backslashreplace"))
        except OSError:
            pass

    def start(self, scratch: str, guarded: list[str], readable: list[str], student_labels: list[str],
              spawn: bool) -> None:
        self.scratch = os.path.realpath(scratch)
        self.guarded = tuple(guarded)  # prefixes: a directory ends with a separator
        self.readable = tuple(path.rstrip(os.sep) + os.sep for path in readable)
        self.student_files = frozenset(f"<{label}>" for label in student_labels)
        self.spawn = spawn
        self.fd = os.open(os.path.join(scratch, INCIDENTS_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.take_snapshot()
        sys.addaudithook(self._hook)
        self.active = True

    # ---- replaced library functions

    def take_snapshot(self) -> None:
        import builtins
        import math

        import numpy
        import torch
        import torch.nn.functional

        self.watched = {"builtins": vars(builtins), "math": vars(math), "numpy": vars(numpy),
                        "numpy.testing": vars(numpy.testing), "torch": vars(torch),
                        "torch.nn.functional": vars(torch.nn.functional), "torch.Tensor": vars(torch.Tensor),
                        "torch.nn.Module": vars(torch.nn.Module), "torch.nn.Linear": vars(torch.nn.Linear),
                        "torch.testing": vars(torch.testing)}
        for name, module in list(sys.modules.items()):
            if name == "autograder" or name.startswith("autograder."):
                self.watched[name] = vars(module)
        if isinstance(getattr(sys.modules.get("autograder.probes"), "PROBES", None), dict):
            self.watched["autograder.probes.PROBES"] = sys.modules["autograder.probes"].PROBES
        self.snapshot = {(owner, key): value for owner, namespace in self.watched.items()
                         for key, value in list(namespace.items())}
        # on classes, also what they inherit: setting Tensor.__eq__ adds a key that shadows one
        self.snapshot.update({(owner, key): _MISSING for owner, cls in (("torch.Tensor", torch.Tensor),
                                                                         ("torch.nn.Module", torch.nn.Module),
                                                                         ("torch.nn.Linear", torch.nn.Linear))
                              for key in dir(cls) if key not in vars(cls)})

    def check_replaced(self) -> None:
        replaced = sorted({f"{owner}.{key}" for (owner, key), value in self.snapshot.items()
                           if not _same_or_torch_wrapped(owner, key, self.watched[owner].get(key, _MISSING), value)}
                          - self.replaced)
        if replaced:
            self.replaced.update(replaced)
            shown = ", ".join(replaced[:12]) + (f" and {len(replaced) - 12} more" if len(replaced) > 12 else "")
            self.note(f"your code replaced {shown} (no effect on the grade: the checks run in the grader)")

    # ---- the audit hook

    def _hook(self, event: str, args: tuple) -> None:
        if event not in _WATCHED_EVENTS or not self.active or self._busy:
            return
        self._busy = True
        try:
            if self._from_student(event):
                self._judge(event, args)
        except Exception:
            pass
        finally:
            self._busy = False

    def _from_student(self, event: str) -> bool:
        """Whether the student's code caused the event: directly for imports and replaced class
        attributes (not a library it called), anywhere up the stack for the rest."""
        frame = sys._getframe(2)
        if event == "import":
            while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
                frame = frame.f_back
        if event in ("import", "object.__setattr__", "object.__delattr__"):
            return frame is not None and frame.f_code.co_filename in self.student_files
        depth = 0
        while frame is not None and depth < 300:
            filename = frame.f_code.co_filename
            if filename.startswith("<frozen importlib") or f"{os.sep}importlib{os.sep}" in filename:
                return False  # caused by an import, which is what gets noted
            if filename in self.student_files:
                return True
            frame, depth = frame.f_back, depth + 1
        return False

    def _path(self, value: Any) -> str | None:
        if isinstance(value, int) or value is None:
            return None
        try:
            path = os.fsdecode(value)
        except TypeError:
            return None
        return os.path.realpath(os.path.join(self.scratch, path))

    def _guarded(self, path: str | None) -> bool:
        if path is None or path == self.scratch or path.startswith(self.scratch + os.sep):
            return False
        if path.startswith(f"/proc/{os.getppid()}/"):
            return True
        inside = path + os.sep
        return any(inside.startswith(prefix) for prefix in self.guarded) \
            and not any(inside.startswith(prefix) for prefix in self.readable)

    def _shown(self, path: str) -> str:
        """The path as the student should see it, and the same on every run (no pids, no temporary names)."""
        temporary = os.path.dirname(self.scratch)
        for prefix, shown in ((f"/proc/{os.getppid()}/", "/proc/<the grader>/"),
                              (temporary + os.sep, "<temporary directory>/"),
                              (os.path.dirname(temporary) + os.sep, "<temporary directory>/../")):
            if path.startswith(prefix) and prefix != os.sep:
                return shown + path[len(prefix):]
            if path + os.sep == prefix:
                return shown.rstrip("/")
        return path

    def _judge(self, event: str, args: tuple) -> None:
        if event == "open":
            path = self._path(args[0])
            if self._guarded(path):
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                mode = str(args[1] or "") if len(args) > 1 else ""
                writes = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC)) \
                    or any(c in mode for c in "wax+")
                verb = "write" if writes else "read"
                self.note(f"your code tried to {verb} {self._shown(path)} (outside its sandbox)")
        elif event in ("os.listdir", "os.scandir"):
            path = self._path(args[0] if args else ".")
            if self._guarded(path):
                self.note(f"your code tried to list {self._shown(path)} (outside its sandbox)")
        elif event in _MODIFIES:
            path = self._path(args[0] if args else None)
            if path is not None and not (path == self.scratch or path.startswith(self.scratch + os.sep)):
                self.note(f"your code tried to {_MODIFIES[event]} {self._shown(path)} (outside its sandbox)")
            elif event in ("os.chmod", "os.chown", "os.utime", "os.setxattr", "os.removexattr"):
                self.note(f"your code tried to {_MODIFIES[event]} a file (not allowed in the sandbox)")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            self._judge_signal(event, args)
        elif event in _STARTS_PROCESS:
            if not self.spawn:
                self.note(f"your code tried to start a process ({event}; not allowed in the sandbox)")
        elif event in ("socket.__new__", "socket.connect", "socket.bind"):
            self.note("your code tried to use the network (not allowed in the sandbox)")
        elif event == "import":
            name = (str(args[0]) if args else "").split(".")[0]
            if name in _GRADER_TOOLS:
                self.note(f"your code imported {name} (the grader's own tooling; "
                          "what the code does to it has no effect)")
        elif event in ("object.__setattr__", "object.__delattr__"):
            owner = args[0] if args else None
            if isinstance(owner, type) and str(getattr(owner, "__module__", "")).split(".")[0] in (
                    "torch", "numpy", "builtins", *_GRADER_TOOLS):
                name = f"{owner.__module__}.{owner.__qualname__}.{args[1]}"
                if name not in self.replaced:
                    self.replaced.add(name)
                    self.note(f"your code replaced {name} (no effect on the grade: the checks run in the grader)")
        elif event.startswith("ctypes."):
            self.note(f"your code used ctypes ({event}) to reach into the process's memory or the C library")
        elif event in ("resource.prlimit", "resource.setrlimit"):
            if event == "resource.prlimit" and args and args[0] not in (0, os.getpid()):
                self.note("your code tried to change the limits of another process (not allowed in the sandbox)")
        elif event == "sys.addaudithook":
            self.note("your code added an audit hook")

    def _judge_signal(self, event: str, args: tuple) -> None:
        target = args[0] if args else None
        if event == "signal.pthread_kill" or not isinstance(target, int):
            return
        own = os.getpid()
        if event == "os.kill":
            if target == own:
                return
            whom = {os.getppid(): "the grader", -1: "every process", 0: "its own process group",
                    -own: "its own process group", -os.getppid(): "the grader's process group"}.get(
                target, "another process")
        else:
            if target in (0, own):
                whom = "its own process group"
            else:
                whom = "another process group"
        sig = args[1] if len(args) > 1 else None
        try:
            name = signal.Signals(sig).name
        except (ValueError, TypeError):
            name = f"signal {sig}"
        self.note(f"your code tried to send {name} to {whom}")


MONITOR = Monitor()


# --------------------------------------------------------------------------- main

def main() -> None:
    request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    init = protocol.receive(request_fd)
    scratch = init["scratch"]
    options = init.get("options", {})
    os.chdir(scratch)
    _redirect_output(scratch, int(options.get("output_bytes", 2**20)))
    _become_subreaper()
    _set_limits(init["rlimits"])

    import torch

    torch.set_num_threads(1)
    from autograder import probes

    probes.load_all()

    namespace: dict[str, Any] = {"__name__": "__student__"}
    for label, source in init["trusted"]:
        exec(compile(source, f"<{label}>", "exec"), namespace)
    trusted_names = dict(namespace)
    seal_modules(namespace)

    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        protocol.send(reply_fd, {"fatal": f"{threads} threads were running before the worker locked itself down; "
                                          "confinement would cover only one of them"})
        return
    spawn = bool(options.get("spawn", False))
    memory_limit = f"{init['rlimits']['RLIMIT_AS'] / 2**30:g} GB for the whole process"
    _drop_capabilities()
    abi, confinement = _lock_down(scratch, init["readable"])
    confinement += "; " + _install_seccomp(spawn)
    MONITOR.start(scratch, init.get("guarded", []), init["readable"], [label for label, _ in init["student"]], spawn)
    if abi < 6:
        MONITOR.note(f"the sandbox is weaker on this machine ({confinement}); tell the course staff")
    load_errors: list[str] = []
    for label, source in init["student"]:
        load_errors += exec_definitions(source, label, namespace)
    namespace.update(trusted_names)
    MONITOR.check_replaced()
    protocol.send(reply_fd, {"ready": True, "load_errors": load_errors, "confinement": confinement})

    while True:
        request = protocol.receive(request_fd)
        probe = probes.PROBES.get(request.get("probe"))
        if probe is None:
            protocol.send(reply_fd, {"ok": False, "error": f"unknown probe {request.get('probe')!r}"})
            continue
        try:
            result = probe(namespace, **request.get("kwargs", {}))
            MONITOR.check_replaced()
            protocol.send(reply_fd, {"ok": True, "result": result})
        except BaseException as exc:  # student code may raise anything, SystemExit included
            if not isinstance(exc, Exception):
                MONITOR.note(f"your code raised {type(exc).__name__} (it does not stop the grading)")
            elif isinstance(exc, MemoryError) or "can't allocate memory" in str(exc)[:2000]:
                MONITOR.note(f"your code ran out of memory (the limit is {memory_limit})")
            MONITOR.check_replaced()
            protocol.send(reply_fd, {"ok": False, "error": _student_traceback(exc)})


if __name__ == "__main__":
    main()
