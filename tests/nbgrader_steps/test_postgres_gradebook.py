"""The gradebook on PostgreSQL (nbgrader's ``db_url``) gets the same grades and flags as on SQLite.

Starts a throwaway PostgreSQL server (Debian's ``postgresql`` package: ``initdb`` and ``pg_ctl``)
in a temporary directory on a free loopback port, as a non-root user, then runs the same course
(Part A cut of the real notebook, see nbgrader_course.py) through ``nbgrader autograde`` and
``nbgrader export`` once with each gradebook, two autograde processes at a time.
"""
from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbgrader_course import (
    ASSIGNMENT,
    KILL_KERNEL,
    NO_SCALING,
    autograde,
    db_url_of,
    gradebook_flags,
    gradebook_scores,
    make_course,
    nbgrader,
    solved,
    submit,
)

pytestmark = pytest.mark.slow
SUPERUSER = "grader"


def _server_binaries() -> Path | None:
    """The bin folder of the newest PostgreSQL server installed (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _run_as(user: str | None, *command: str) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's postgresql package "
                    "(apt-get install -y postgresql; .ci/run does) to run this test")
    user = None
    if os.geteuid() == 0:  # the server refuses to run as root
        user = next((name for name in ("postgres", "nobody") if _user_exists(name)), None)
        if user is None or shutil.which("runuser") is None:
            pytest.skip("running as root without a 'postgres' or 'nobody' user and runuser to start PostgreSQL as")
    folder = Path(tempfile.mkdtemp(prefix="autograder-pg-"))  # under /tmp, reachable by that user
    if user:
        shutil.chown(folder, user)
    data, port = folder / "data", _free_port()
    _run_as(user, str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--no-sync")
    _run_as(user, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
            "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE gradebook")
        connection.close()
        yield f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{port}/gradebook"
    finally:
        _run_as(user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _grade_course(folder: Path, db_url: str | None) -> dict:
    course = make_course(folder, db_url=db_url)
    db_url = db_url or db_url_of(course)
    students = {"alice": solved(course),  # correct; and partly wrong with a kernel that dies (a flag):
                "carol": solved(course, replace=NO_SCALING, append={"mha": KILL_KERNEL})}
    for student, notebook in students.items():
        submit(course, student, notebook)
    for student, run in autograde(course, list(students)).items():
        assert run.returncode == 0, f"{student}:\n{run.stderr[-4000:]}"
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with (course / "grades.csv").open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["student_id"])
    return {"scores": {s: gradebook_scores(db_url, s) for s in students},
            "flags": {s: gradebook_flags(db_url, s) for s in students}, "csv": rows}


def test_postgres_gradebook_gets_what_sqlite_gets(postgres_url: str, tmp_path: Path) -> None:
    on_postgres = _grade_course(tmp_path / "postgres", postgres_url)
    on_sqlite = _grade_course(tmp_path / "sqlite", None)
    assert on_postgres["scores"] == on_sqlite["scores"]
    assert on_postgres["flags"] == on_sqlite["flags"]
    assert on_postgres["csv"] == on_sqlite["csv"]
    assert on_postgres["scores"]["alice"]["test_sdpa"] == 15.0 > on_postgres["scores"]["carol"]["test_sdpa"]
    assert on_postgres["flags"]["carol"][0] and not on_postgres["flags"]["alice"][0]
    assert ASSIGNMENT in {row["assignment"] for row in on_postgres["csv"]}
