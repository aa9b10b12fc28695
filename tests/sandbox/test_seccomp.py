"""The worker's seccomp filter (autograder/sandbox/child/seccomp.py): the BPF program assembles, and
installed in a real process it refuses what it must (EPERM) while ordinary calls still work."""
from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.sandbox import shared
from autograder.sandbox.child import seccomp


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize("spawn", [False, True])
def test_seccomp_program_assembles(arch, spawn):
    program = seccomp.seccomp_program(arch, 12345, spawn)
    assert 20 < len(program) < 255
    assert program[-1] == (0x06, 0, 0, 0x7FFF0000)  # allow, the default
    assert all(0 <= jt <= 255 and 0 <= jf <= 255 for _, jt, jf, _ in program)


SECCOMP_PROBE = """
import errno, os, socket, sys
from autograder.sandbox.child.seccomp import install_seccomp
install_seccomp(spawn=False)
def outcome(action):
    try:
        action()
        return "allowed"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
def fork():
    if os.fork() == 0:
        os._exit(0)
    os.wait()
results = {"socket": outcome(lambda: socket.socket().close()), "fork": outcome(fork),
           "chmod": outcome(lambda: os.chmod(sys.argv[1], 0o777)), "kill init": outcome(lambda: os.kill(1, 0)),
           "getpid": outcome(os.getpid), "open": outcome(lambda: open(sys.argv[1]).close())}
print(results)
"""


def test_the_seccomp_filter_refuses_what_it_must_and_allows_the_rest(tmp_path):
    """Installed in a real process: sockets, new processes, chmod and signals to others fail with EPERM."""
    target = tmp_path / "file"
    target.write_text("x")
    run = subprocess.run([sys.executable, "-c", SECCOMP_PROBE, str(target)], capture_output=True, text=True,
                         cwd=shared.PROJECT_ROOT, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert eval(run.stdout) == {"socket": "EPERM", "fork": "EPERM", "chmod": "EPERM", "kill init": "EPERM",
                                "getpid": "allowed", "open": "allowed"}
