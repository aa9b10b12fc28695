"""Start the student's notebook kernel confined, as the engine's workers are.

Under ``nbgrader autograde`` the student's code runs in a kernel with the grader's user and
rights: stock, it could rewrite the grader's own code before the engine's workers load it (a
probe that answers like the reference earns full marks), edit the gradebook, read the
instructor's solutions and print them into its own feedback, or kill nbgrader.  Grades do not
depend on what the kernel computes, but they do depend on the files and processes around it.

So the kernel is started through this module: ``ConfinedKernelManager`` (used by
``TolerantExecute``) puts ``python -m autograder.nbgrader_steps.confinedkernel SCRATCH ... --``
before the kernel's command; that launcher takes the worker's resource limits
(:class:`autograder.sandbox.limits.Limits`: memory, CPU time, file size, processes, open files),
becomes a subreaper, confines itself with Landlock and then becomes the kernel (exec), all of
that included.  When the notebook is done the manager kills the kernel with everything it
started and removes what it left in /dev/shm (:mod:`.kernelleftovers`).  The kernel may then

- read only the Python installation and system files, the data the notebook loads (NLTK data,
  caches under ``~/.cache``), its own connection file and, of this package, only the two files
  the hidden test cells import: not the course, the gradebook, other students' work or the
  grader's reference solutions;
- write only in its working directory (the student's autograded folder), a private scratch
  directory (its TMPDIR, matplotlib and IPython folders) and /dev/shm, and create no links;
- bind only its own ports (and auto-bound ones), connect to no TCP port (no gradebook server,
  no network);
- signal no process outside itself (no killing nbgrader);
- and, started as root, it gives up every capability.

Without Landlock (an old kernel) it runs unconfined and says so on stderr, in nbgrader's log.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from autograder.nbgrader_steps.kernelleftovers import MARKER_VARIABLE, KernelLeftovers
from autograder.sandbox.limits import Limits

LAUNCHER = "autograder.nbgrader_steps.confinedkernel"
PACKAGE = Path(__file__).resolve().parent.parent
IMPORTED_IN_KERNEL = ("__init__.py", "notebook.py")  # what `from autograder.notebook import ...` reads
PORT_KEYS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


class ConfinedKernelManager(AsyncKernelManager):
    """An async kernel manager whose kernels start under the launcher below.

    ``confine`` says whether the launcher confines the kernel; ``run_marker`` is put in the
    kernel's environment, which every process it starts inherits.  With ``end_leftovers``,
    shutting the kernel down first kills it with everything it started and removes its
    /dev/shm files (:mod:`.kernelleftovers`).
    """

    confine: bool = True
    run_marker: str = ""
    end_leftovers: bool = True
    scratch: str | None = None
    leftovers: KernelLeftovers | None = None
    kernel_pid: int | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        self.scratch = tempfile.mkdtemp(prefix="autograder-kernel-")
        options = [f"--marker={self.run_marker}"] + ([] if self.confine else ["--unconfined"])
        return [sys.executable, "-m", LAUNCHER, self.scratch, *options, "--", *command]

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        if self.end_leftovers:
            self.leftovers = KernelLeftovers(self.run_marker)
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = getattr(self.provisioner, "process", None)
        self.kernel_pid = getattr(process, "pid", None)

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """The notebook is done: nothing the kernel started survives it, so there is nothing to shut down gently."""
        killed = self._end_leftovers()
        await super().shutdown_kernel(now=now or killed, restart=restart)

    def _end_leftovers(self) -> bool:
        if self.leftovers is None:
            return False
        self.leftovers.end(self.kernel_pid, self.log)
        return True

    async def cleanup_resources(self, restart: bool = False) -> None:
        self._end_leftovers()
        await super().cleanup_resources(restart=restart)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def main(argv: list[str]) -> None:
    if "--" not in argv[2:] or len(argv) < 4:
        raise SystemExit(f"usage: python -m {LAUNCHER} SCRATCH [--marker=M] [--unconfined] -- KERNEL_COMMAND...")
    split = argv.index("--", 2)
    scratch, options, command = argv[1], argv[2:split], argv[split + 1:]
    marker = next((option.split("=", 1)[1] for option in options if option.startswith("--marker=")), "")
    env = dict(os.environ, TMPDIR=scratch, MPLCONFIGDIR=os.path.join(scratch, "matplotlib"),
               IPYTHONDIR=os.path.join(scratch, "ipython"), JUPYTER_RUNTIME_DIR=os.path.join(scratch, "runtime"),
               HF_DATASETS_CACHE=os.path.join(scratch, "datasets"), PYTHONDONTWRITEBYTECODE="1")
    env[MARKER_VARIABLE] = marker
    limit(Limits())
    if "--unconfined" not in options:
        note = confine(scratch, _connection_file(command))
        if note:
            print(f"[{LAUNCHER}] {note}", file=sys.stderr, flush=True)
    os.execve(command[0], command, env)


def limit(limits: Limits) -> None:
    """The worker's resource limits (memory, CPU, file size, processes, files), and orphans come back to the kernel.

    Both are kept across the exec into the kernel and inherited by all it starts.
    """
    from autograder.sandbox.child.confine import become_subreaper, set_limits

    set_limits(limits.rlimits())
    become_subreaper()


def confine(scratch: str, connection_file: str | None) -> str | None:
    """Confine this process (and what it execs) as the module docstring says; a note if it could not be."""
    import landlockpy

    from autograder.sandbox.child.confine import drop_capabilities
    from autograder.sandbox.readable import kernel_readable_roots

    abi = landlockpy.abi_version()
    if abi == 0:
        return "Landlock is not available: the student's kernel runs unconfined"
    fs, net = landlockpy.AccessFS, landlockpy.AccessNet
    read = fs.READ_FILE | fs.READ_DIR | fs.EXECUTE
    write = read | fs.WRITE_FILE | fs.TRUNCATE | fs.MAKE_REG | fs.MAKE_DIR | fs.REMOVE_FILE | fs.REMOVE_DIR
    scoped = landlockpy.Scope.SIGNAL | landlockpy.Scope.ABSTRACT_UNIX_SOCKET
    with landlockpy.Ruleset(handled_net=net.BIND_TCP | net.CONNECT_TCP, scoped=scoped) as ruleset:
        for root in kernel_readable_roots():
            ruleset.allow_path(root, read)
        ruleset.allow_path(PACKAGE, fs.READ_DIR)
        for name in IMPORTED_IN_KERNEL:
            ruleset.allow_path(PACKAGE / name, fs.READ_FILE)
        if connection_file:
            ruleset.allow_path(connection_file, fs.READ_FILE)
        ruleset.allow_path(os.getcwd(), write)
        ruleset.allow_path(scratch, write | fs.MAKE_SOCK | fs.MAKE_FIFO)
        ruleset.allow_path("/dev/null", fs.READ_FILE | fs.WRITE_FILE)
        if os.path.isdir("/dev/shm"):  # POSIX semaphores and shared memory (multiprocessing, joblib, torch)
            ruleset.allow_path("/dev/shm", write)
        for device in ("/dev/zero", "/dev/urandom", "/dev/random"):
            ruleset.allow_path(device, fs.READ_FILE)
        for port in [*_kernel_ports(connection_file), 0]:  # 0: auto-bound ports (ipykernel's subprocess pipe)
            ruleset.allow_port(port, net.BIND_TCP)
        ruleset.restrict()
    if os.geteuid() == 0:
        drop_capabilities()
    return None


def _connection_file(command: list[str]) -> str | None:
    for flag, value in zip(command, command[1:]):
        if flag in ("-f", "--f", "--ConnectionFileMixin.connection_file"):
            return value
    return None


def _kernel_ports(connection_file: str | None) -> list[int]:
    if not connection_file:
        return []
    with open(connection_file, encoding="utf-8") as handle:
        info = json.load(handle)
    return [int(info[key]) for key in PORT_KEYS if info.get(key)]


if __name__ == "__main__":
    main(sys.argv)
