"""Watching the student's code: an audit hook and a snapshot of the libraries' functions.

They prevent nothing (the kernel does); they write what they see to the incidents file in the
scratch directory, which the grader reads for its flags.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from autograder.sandbox.shared import MAX_INCIDENTS, PROJECT_ROOT, signal_name

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

    Incidents go to the grader's pipe as they happen, so that they survive a worker that dies
    right after (a segfault through ctypes); each is written once, at most
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
              spawn: bool, incidents_fd: int) -> None:
        """``incidents_fd`` is the write end of the grader's pipe: what is written there is out of the
        student's reach, and the grader checks from outside that the descriptor still is that pipe."""
        self.scratch = os.path.realpath(scratch)
        self.guarded = tuple(guarded)  # prefixes: a directory ends with a separator
        self.readable = tuple(path.rstrip(os.sep) + os.sep for path in readable)
        self.student_files = frozenset(f"<{label}>" for label in student_labels)
        self.spawn = spawn
        self.fd = incidents_fd
        os.set_blocking(incidents_fd, False)  # MAX_INCIDENTS short lines fit in a pipe's buffer; never wait
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
                              (PROJECT_ROOT + os.sep, "<course directory>/"),
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
            if self._guarded(path) and not _source_line_of_running_code(path, args):
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
        self.note(f"your code tried to send {signal_name(sig)} to {whom}")


def _source_line_of_running_code(path: str | None, args: tuple) -> bool:
    """A read of the worker's own code (not the sealed reference) for a line to show: a warning or a
    traceback naming a frame of the worker that called the student's code.  Nothing the student's
    code could not see in the worker's memory anyway."""
    mode = str(args[1] or "") if len(args) > 1 else ""
    if not path or any(c in mode for c in "wax+") or not path.endswith(".py"):
        return False
    opener = sys._getframe(3)  # this <- _judge <- _hook <- the Python code that opened the file
    if not any(os.path.basename(frame.f_code.co_filename) in ("linecache.py", "tokenize.py")
               for frame in _frames(opener, 4)):
        return False
    return any(os.path.realpath(getattr(module, "__file__", None) or "") == path
               for name, module in list(sys.modules.items())
               if name.startswith(("autograder.sandbox.", "autograder.probes")))


def _frames(frame: Any, count: int) -> list[Any]:
    found = []
    while frame is not None and len(found) < count:
        found.append(frame)
        frame = frame.f_back
    return found


MONITOR = Monitor()
