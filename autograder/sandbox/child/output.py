"""What the student's code prints: kept up to a budget, the rest dropped without an error."""
from __future__ import annotations

import io
import os
import sys
from typing import Any

from autograder.sandbox.child.monitor import MONITOR


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


def redirect_output(scratch: str, budget: int) -> None:
    log = os.open(os.path.join(scratch, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    shared = [budget]
    sys.stdout = _CappedOutput(1, shared, "<stdout>")
    sys.stderr = _CappedOutput(2, shared, "<stderr>")
