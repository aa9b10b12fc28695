"""What confined student code may read: the Python installation and system libraries, never the course or the grader.

Two policies, on purpose, one per place student code runs:

- a **worker** (:func:`worker_readable_roots`) runs the student's definitions and our probes and
  needs nothing else: of ``/etc`` only what a Python program needs (``ETC_READABLE``; not
  ``/etc/shadow``, readable by a root worker's uid), no data folders; the grader's package and
  the course are carved out of the roots that hold them (Landlock only allows);
- the **nbgrader kernel** (:func:`kernel_readable_roots`, used by nbgrader_steps/confinedkernel.py)
  runs the whole notebook in Jupyter's own stack: it also needs all of ``/etc`` (Jupyter's and
  matplotlib's configuration) and the data the notebook loads (the NLTK corpus, the Hugging Face
  cache); a root that holds the course is left out whole (its few kernel imports are allowed
  file by file there).
"""
from __future__ import annotations

import functools
import os
import sys
import sysconfig
from pathlib import Path

from autograder.sandbox.shared import PACKAGE_DIR, PROJECT_ROOT

# What of /etc a Python program may need; not the rest (/etc/shadow is readable by a root worker's uid).
ETC_READABLE = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "zoneinfo", "passwd", "group",
                "nsswitch.conf", "hosts", "host.conf", "resolv.conf", "gai.conf", "mime.types", "os-release",
                "lsb-release", "locale.alias", "alternatives", "fonts", "ssl/certs", "ca-certificates",
                "pki/tls/certs", "matplotlibrc")


def is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _hidden_dirs() -> set[str]:
    """The grader's package and course directory, and where the grading was started from."""
    return {os.path.realpath(p) for p in (PACKAGE_DIR, PROJECT_ROOT, os.getcwd())} - {os.sep}


def _carve(root: str, hidden: set[str]) -> list[str]:
    """``root``, or its entries without the hidden directories inside it (Landlock only allows)."""
    if not any(h != root and is_within(h, root) for h in hidden) or not os.path.isdir(root):
        return [root]
    kept = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        real = os.path.realpath(path)
        if path in hidden or any(is_within(real, h) for h in hidden):
            continue
        kept += _carve(path, hidden)
    return kept


def _python_and_system() -> set[str]:
    """The Python installation and the system's libraries, /proc and /sys: what every Python process reads."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/lib", "/lib64", "/bin", "/proc", "/sys"}
    return roots | {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}


@functools.lru_cache(maxsize=8)
def _worker_roots_for(cwd: str) -> tuple[str, ...]:
    roots = _python_and_system() | {"/lib32", "/sbin"}
    roots |= {os.path.join("/etc", name) for name in ETC_READABLE}
    roots = {os.path.realpath(root) for root in roots if root and os.path.exists(root)}
    # a hidden directory that holds a root (the course directory holding .venv) cannot be hidden
    # wholesale, and needs nothing: only the roots are readable; one inside a root is carved out
    hidden = {h for h in _hidden_dirs() if not any(is_within(root, h) for root in roots)}
    readable: set[str] = set()
    for root in roots:
        readable.update(_carve(root, hidden))
    return tuple(sorted(readable))


def worker_readable_roots() -> list[str]:
    """Where a worker may read: the Python installation and system libraries, not the course or the grader."""
    return list(_worker_roots_for(os.getcwd()))


def kernel_readable_roots() -> list[str]:
    """Where the nbgrader kernel may read: a worker's roots, all of /etc and the notebook's data; no course."""
    home = Path.home()
    roots = _python_and_system() | {"/etc", str(home / ".cache"), str(home / "nltk_data")}
    roots.update(path for path in os.environ.get("NLTK_DATA", "").split(os.pathsep) if path)
    course = PROJECT_ROOT + os.sep
    return sorted(root for root in roots
                  if os.path.exists(root) and not course.startswith(root.rstrip(os.sep) + os.sep))


def guarded_prefixes(scratch: str) -> list[str]:
    """Where an attempt to look is worth a flag: the grader, the course, other workers' and submissions' files."""
    places = _hidden_dirs() | {os.path.dirname(scratch), os.path.dirname(os.path.dirname(scratch))}
    return sorted(os.path.realpath(p).rstrip(os.sep) + os.sep for p in places if os.path.realpath(p) != os.sep)
