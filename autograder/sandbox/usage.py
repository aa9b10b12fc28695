"""What a worker's process tree uses now (tasks, memory, disk), for the watchdog in :mod:`.handle`."""
from __future__ import annotations

import os
import stat

from autograder.sandbox.proctree import proc_status


def format_size(count: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"


def threads(pid: int) -> int:
    try:
        return int(proc_status(pid).get("Threads", "1"))
    except ValueError:
        return 1


def memory(pid: int) -> int:
    """Proportional set size (shared pages shared out), or the resident size if that cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def disk_usage(scratch: str, tree: list[int], max_files: int) -> tuple[int, int]:
    """Entries and allocated bytes in the scratch directory, plus deleted files the tree keeps open."""
    seen: set[tuple[int, int]] = set()
    files = size = 0
    pending = [scratch]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    files += 1
                    if files > max_files:
                        return files, size
                    info = entry.stat(follow_symlinks=False)
                    if (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        size += info.st_blocks * 512
                    if stat.S_ISDIR(info.st_mode):
                        pending.append(entry.path)
        except OSError:
            continue
    device = os.stat(scratch).st_dev
    for pid in tree:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                info = os.stat(f"/proc/{pid}/fd/{descriptor}")
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_dev == device and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                size += info.st_blocks * 512
    return files, size
