"""``grade-all --scheduler`` on a real Dask cluster: a ``dask scheduler`` and ``dask worker``
processes started with their own command lines, as a course starts them on its machines.

Checks that the cluster grades exactly like the local pool, and that a worker killed in the
middle of the run (SIGKILL of its whole process tree, as when a machine dies) costs nothing:
its submission is graded on another worker, and every results.json is written once.
Part A only and small scripts (fixture files), so that the run takes a minute or two.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from autograder.batch import run as batch_run
from autograder.batch.isolate import CHILD_COMMAND
from autograder.batch.run import grade_all
from autograder.sandbox.proctree import descendants

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed")

DASK = Path(sys.executable).with_name("dask")
PARTS = ["part-a"]
CLASS = {  # student -> fixture: right in several styles, and wrong in several ways
    "amal": "hostile/honest.py", "bo": "part_a/reference.py", "chen": "part_a/ok_einsum.py",
    "dana": "part_a/bad_no_scale.py", "eli": "part_a/bad_mask_ignored.py", "fay": "part_a/bad_split_no_transpose.py"}
START_SECONDS = 120.0  # a scheduler or worker that has not come up by then is a failure, not a hang


class Cluster:
    """A scheduler and workers on localhost, each in its own session; close() kills every process they started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.scheduler_file = root / "scheduler.json"
        self.processes: dict[str, subprocess.Popen] = {}
        self.address = ""

    def _start(self, name: str, command: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")  # the process keeps its own copy
        self.processes[name] = subprocess.Popen(command, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start_scheduler(self) -> None:
        self._start("scheduler", [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(self.scheduler_file)])
        deadline = time.monotonic() + START_SECONDS
        while not self.address:
            assert self.processes["scheduler"].poll() is None, self.log("scheduler")
            assert time.monotonic() < deadline, "the scheduler did not start"
            try:
                self.address = json.loads(self.scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)

    def start_workers(self, *names: str) -> None:
        for name in names:
            (self.root / name).mkdir()
            self._start(name, [str(DASK), "worker", "--scheduler-file", str(self.scheduler_file), "--name", name,
                               "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
                               "--local-directory", str(self.root / name)])
        with distributed.Client(self.address, timeout=START_SECONDS) as client:
            client.wait_for_workers(len(names), timeout=START_SECONDS)

    def grading_processes(self, name: str) -> list[int]:
        """The grading processes (isolate.child_main) running under worker ``name`` now."""
        return [pid for pid in descendants(self.processes[name].pid) if CHILD_COMMAND in cmdline(pid)]

    def kill(self, name: str) -> list[int]:
        """SIGKILL the whole process tree (nanny, worker, grading process, its sandbox workers); the pids killed."""
        process = self.processes[name]
        tree = descendants(process.pid)
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(30)
        return tree

    def close(self) -> None:
        for name in list(self.processes):
            self.kill(name)
            try:
                os.killpg(self.processes[name].pid, signal.SIGKILL)  # anything left in its session
            except (ProcessLookupError, PermissionError):
                pass

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-3000:]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers; whatever happens in the test, every one of their processes is killed."""
    root = tmp_path / "cluster"
    root.mkdir()
    started = Cluster(root)
    try:
        started.start_scheduler()
        started.start_workers("worker-1", "worker-2")
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory, submissions):
    folder = tmp_path_factory.mktemp("class") / "submitted"
    folder.mkdir()
    for student, fixture in CLASS.items():
        shutil.copy(submissions / fixture, folder / f"{student}.py")
    return folder


@pytest.fixture(scope="module")
def local_pool(class_folder):
    """The reference: the same class graded by the local pool, --jobs 2."""
    out = class_folder.parent / "local"
    grade_cli(class_folder, out, "--jobs", "2")
    return outputs(out)


def grade_cli(folder: Path, out: Path, *how: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "autograder", "grade-all", str(folder), "--out", str(out), "--parts", *PARTS,
               "-q", *how]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stdout + finished.stderr  # 1 would mean some grading failed
    return finished


def outputs(out: Path) -> dict[str, str]:
    """Every output file's text by relative path (none holds a timing: all are deterministic)."""
    return {path.relative_to(out).as_posix(): path.read_text() for path in sorted(out.rglob("*")) if path.is_file()}


def test_real_cluster_grades_like_the_local_pool(cluster, class_folder, local_pool, tmp_path):
    finished = grade_cli(class_folder, tmp_path / "dask", "--scheduler", cluster.address)
    assert f"{len(CLASS)} graded now" in finished.stdout
    assert outputs(tmp_path / "dask") == local_pool
    grades = local_pool["grades.csv"].splitlines()
    assert [line.split(",")[0] for line in grades[1:]] == sorted(CLASS)
    assert all(line.split(",")[-2] == "graded" for line in grades[1:])


def test_worker_killed_mid_run_loses_nothing_and_grades_nothing_twice(cluster, class_folder, local_pool, tmp_path,
                                                                     monkeypatch):
    written: Counter[str] = Counter()
    save_report = batch_run.save_report

    def counting_save_report(out, student, report):
        written[student] += 1
        save_report(out, student, report)

    monkeypatch.setattr(batch_run, "save_report", counting_save_report)
    killed: list[int] = []
    stop = threading.Event()

    def kill_worker_1_while_it_grades() -> None:
        while not stop.is_set():
            if written and cluster.grading_processes("worker-1"):  # the run under way, worker-1 busy
                killed.extend(cluster.kill("worker-1"))
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_worker_1_while_it_grades, daemon=True)
    killer.start()
    try:
        result = grade_all(class_folder, tmp_path / "dask", scheduler=cluster.address, parts=PARTS, progress=False,
                           similarity=True, class_report=True)  # what the command line does, as in the reference run
    finally:
        stop.set()
        killer.join(60)
    assert killed, "worker-1 never started grading"
    assert not result.failed, [row.report.flags for row in result.failed]
    assert result.graded == len(CLASS) and dict(written) == dict.fromkeys(CLASS, 1)
    assert outputs(tmp_path / "dask") == local_pool
    # the worker died with everything it had started: no grading process of it is left running
    assert not [pid for pid in killed if alive(pid)]
    with distributed.Client(cluster.address) as client:
        assert [w["name"] for w in client.scheduler_info()["workers"].values()] == ["worker-2"]
