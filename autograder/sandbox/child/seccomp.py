"""The worker's seccomp filter: the system calls a confined Python program has no use for are refused.

No sockets, no permission/owner/timestamp changes (Landlock does not cover them), no new
processes or programs (unless the limits allow them), no signals or priority/limit changes
aimed at other processes, none of the kernel interfaces a Python program has no use for.
"""
from __future__ import annotations

import ctypes
import os
import platform
import struct

_PR_SET_NO_NEW_PRIVS = 38
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


def install_seccomp(spawn: bool) -> str:
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
