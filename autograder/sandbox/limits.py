"""What one worker may use: time, memory, processes, disk, output."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one worker may use.

    ``memory_bytes`` is the address space of each process (RLIMIT_AS, so it includes
    torch's own) and, when the worker may start processes, the memory of all of them
    together (the watchdog).  ``processes`` is how many tasks (processes and threads) the
    worker may run on top of what its uid already runs.  ``spawn`` allows the student's code
    to start processes at all (off by default: no fork, no exec).  ``disk_bytes`` and
    ``disk_files`` bound the scratch directory, ``file_bytes`` each file, ``output_bytes``
    what is kept of the code's printed output.  ``submission_seconds`` is the budget of one whole
    submission (every part, every check, every restart): past it the remaining checks score 0
    and the submission is flagged.  An honest grading takes 12-25 s on a 2-core machine
    (benchmarks/grading_speed.out), so the default is a small multiple of that.
    """

    submission_seconds: float = 300.0
    load_seconds: float = 90.0
    statement_seconds: float = 10.0   # each top-level statement of the student's code, while loading
    call_seconds: float = 10.0        # each probe call; honest ones take under 0.3 s (the learning check sets its own)
    memory_bytes: int = 6 * 2**30
    file_bytes: int = 64 * 2**20
    cpu_seconds: int = 900
    open_files: int = 512
    processes: int = 256
    disk_bytes: int = 512 * 2**20
    disk_files: int = 10_000
    output_bytes: int = 2**20
    spawn: bool = False

    def rlimits(self) -> dict[str, int]:
        """RLIMIT_NPROC here is a budget on top of the tasks the uid already runs (see the worker)."""
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_CPU": self.cpu_seconds,
                "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0, "RLIMIT_NPROC": self.processes}
