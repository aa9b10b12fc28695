"""What a worker runs (trusted course code, then the student's) and what loading it gave."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Program:
    """The code one worker runs: trusted course code first, then the student's cells in notebook order.

    The trusted code (our copies of the provided cells a part needs, our setup) runs before the
    worker locks itself down; it only defines things, so running it first changes nothing the
    student's code sees but that provided names exist earlier.  Every name it defines is bound
    again after the student's code ran, so a student cannot replace our attention, the training
    loop or a helper a probe relies on.
    """

    trusted: list[tuple[str, str]]
    student: list[tuple[str, str]]
    test_cells: tuple[str, ...] = ()  # whose probes the worker loads (see autograder.probes.load_for)


@dataclass
class LoadReport:
    load_errors: list[str] = field(default_factory=list)
    confinement: str = ""
    incidents: list[str] = field(default_factory=list)
