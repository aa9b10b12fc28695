"""Grade a whole folder of submissions: in parallel, resumably, each submission in its own process.

Why a process per submission: the engine keeps student code in confined workers, but the
grading process itself still imports torch, runs hypothesis and reaps its workers' orphans
(it kills *every* late child of its own process).  One fresh grading process per submission
means a crash, a leak or a hang there costs that submission only, and the next one starts
clean.  The supervisor (this module, in the TA's process) never imports student code; it only
starts grading processes, waits for them with a time limit and collects their JSON.

Locally the grading processes are forked from a forkserver that has already imported the
engine (saves importing torch once per submission); on a Dask cluster, whose workers are
daemonic processes, each task starts a fresh interpreter instead.  Both run the same task and
give the same ``results.json``.

Outputs under OUTDIR, all deterministic (sorted by student, no timestamps):
``<student>/results.json`` (Gradescope format), ``grades.csv``, ``summary.json``,
``summary.txt`` and ``manifest.json`` (what was graded with which content digest, engine
version and parts, so that a re-run skips what is unchanged).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import importlib
import io
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import psutil

from autograder import ENGINE_VERSION
from autograder.assignment.parts import PARTS
from autograder.grading.report import CheckResult, GradeReport
from autograder.sandbox import Limits

DEFAULT_GRADER = "autograder.grading.engine:grade_submission"
DEFAULT_TIMEOUT = 1800.0
MANIFEST_FORMAT = 1
PART_TAGS: tuple[str, ...] = tuple(part.tag for part in PARTS)
CSV_COLUMNS: tuple[str, ...] = ("student", "submission", *PART_TAGS, "total", "max", "status", "flags")
SUBMISSION_SUFFIXES = (".ipynb", ".py")
_SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__"}


# --------------------------------------------------------------------------- finding submissions

@dataclass(frozen=True)
class Found:
    """One student's submission as found on disk (``path`` is None when there is nothing to grade)."""

    student: str
    path: Path | None
    relative: str
    problems: tuple[str, ...] = ()


def discover(submitted: str | Path, assignment: str | None = None, exclude: Path | None = None) -> list[Found]:
    """Every student's submission under ``submitted``, sorted by student.

    Two layouts, also mixed: nbgrader's ``<student>/<assignment>/*.ipynb`` and a flat folder
    of ``.ipynb``/``.py`` files whose stem is the student id.  Odd cases (no notebook,
    several notebooks, two files for one student) become problems on that student's row,
    never an error for the batch; only an ambiguous assignment (several, none chosen) is.
    ``exclude`` is a folder not to take for a student's (the output folder, if it is inside).
    """
    root = Path(submitted)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    skip = exclude.resolve() if exclude else None
    student_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p) and p.resolve() != skip)
    if assignment is None:
        names = {a.name for d in student_dirs for a in d.iterdir() if a.is_dir() and not _hidden(a)}
        if len(names) > 1:
            raise ValueError(f"several assignments found ({', '.join(sorted(names))}); choose one with --assignment")
        assignment = names.pop() if names else None
    found: dict[str, Found] = {}
    for student_dir in student_dirs:
        found[student_dir.name] = _find_in_assignment(root, student_dir, assignment)
    flat: dict[str, list[Path]] = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix in SUBMISSION_SUFFIXES and not _hidden(path):
            flat.setdefault(path.stem, []).append(path)
    for student, paths in flat.items():
        paths.sort(key=lambda p: (p.suffix != ".ipynb", p.name))  # a notebook wins over a script
        chosen = Found(student, paths[0], paths[0].relative_to(root).as_posix())
        previous = found.get(student)
        if previous is not None and previous.path is not None:  # the nbgrader folder wins over a loose file
            paths, chosen = [previous.path, *paths], previous
        others = [p.relative_to(root).as_posix() for p in paths if p != chosen.path]
        if others:
            chosen = dataclasses.replace(chosen, problems=chosen.problems + (
                f"{', '.join(others)} also found; {chosen.relative} was graded",))
        found[student] = chosen
    return [found[name] for name in sorted(found)]


def _hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name in _SKIPPED_DIRS


def _find_in_assignment(root: Path, student_dir: Path, assignment: str | None) -> Found:
    """The notebook in ``<student>/<assignment>/``: the one named after the assignment if several."""
    folder = student_dir / assignment if assignment else student_dir
    where = folder.relative_to(root).as_posix()
    candidates = []
    if folder.is_dir():
        candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".ipynb" and not _hidden(p))
        if not candidates:
            candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".py" and not _hidden(p))
    if not candidates:
        return Found(student_dir.name, None, where, (f"no notebook found in {where}/",))
    chosen = next((p for p in candidates if assignment and p.stem == assignment), candidates[0])
    problems: tuple[str, ...] = ()
    if len(candidates) > 1:
        problems = (f"several files in {where}/ ({', '.join(p.name for p in candidates)}); {chosen.name} was graded",)
    return Found(student_dir.name, chosen, chosen.relative_to(root).as_posix(), problems)


# --------------------------------------------------------------------------- one isolated grading

@dataclass(frozen=True)
class Task:
    """Everything a grading process needs, as plain data (it travels to Dask workers by value)."""

    student: str
    filename: str
    content: bytes
    parts: tuple[str, ...] | None = None
    grader: str = DEFAULT_GRADER
    limits: dict[str, Any] | None = None
    sys_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What came back from one grading process: its report's JSON, or why there is none."""

    student: str
    report_json: str | None = None
    failure: str | None = None


def run_isolated(task: Task, timeout: float = DEFAULT_TIMEOUT, how: str = "auto",
                 cancel: threading.Event | None = None) -> Outcome:
    """Grade ``task`` in a fresh process and return its report; never raises for the submission's sake.

    ``how`` is "fork" (from the preloaded forkserver), "exec" (a new interpreter) or "auto"
    (fork unless this process may not have children, as in a daemonic Dask worker).  The
    process, and everything it started, is killed after ``timeout`` seconds or on ``cancel``.
    """
    if how == "auto":
        how = "exec" if multiprocessing.current_process().daemon else "fork"
    with tempfile.TemporaryDirectory(prefix="autograder-batch-", ignore_cleanup_errors=True) as workdir:
        work = Path(workdir)
        (work / "submission").mkdir()
        (work / "tmp").mkdir()
        (work / "submission" / task.filename).write_bytes(task.content)
        spec = {"student": task.student, "filename": task.filename, "parts": list(task.parts) if task.parts else None,
                "grader": task.grader, "limits": task.limits, "sys_path": list(task.sys_path)}
        (work / "task.json").write_text(json.dumps(spec))
        code, stopped = _run_child(workdir, timeout, how, cancel)
        report_file, error_file = work / "report.json", work / "error.txt"
        if code == 0 and report_file.exists():
            return Outcome(task.student, report_json=report_file.read_text())
        if stopped:
            return Outcome(task.student, failure=stopped)
        if error_file.exists():
            return Outcome(task.student, failure=f"the grader raised {error_file.read_text().strip()[:1000]}")
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return Outcome(task.student, failure=f"the grading process was killed by {name}")
        return Outcome(task.student, failure=f"the grading process exited with code {code} without a result")


_CHILD_COMMAND = "import sys; from autograder.batch import child_main; child_main(sys.argv[1])"
_forkserver_lock = threading.Lock()
_forkserver_context: Any = None


def _fork_context() -> Any:
    """A forkserver that has imported the engine once; each grading process is a fresh fork of it."""
    global _forkserver_context
    with _forkserver_lock:
        if _forkserver_context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["autograder.grading.engine"])
            _forkserver_context = context
        return _forkserver_context


def _run_child(workdir: str, timeout: float, how: str, cancel: threading.Event | None) -> tuple[int | None, str | None]:
    """Run child_main(workdir) in a new process; (exit code, reason it was stopped or None)."""
    if how == "fork":
        process = _fork_context().Process(target=child_main, args=(workdir,), name="autograder-grading")
        process.start()
        pid, poll = process.pid, (lambda: process.exitcode)
        wait_step = process.join
    elif how == "exec":
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent.parent)] +
                                                           [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        popen = subprocess.Popen([sys.executable, "-c", _CHILD_COMMAND, workdir], env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pid, poll = popen.pid, popen.poll

        def wait_step(seconds: float) -> None:
            try:
                popen.wait(seconds)
            except subprocess.TimeoutExpired:
                pass
    else:
        raise ValueError(f"unknown way to start a grading process: {how!r}")
    deadline = time.monotonic() + timeout
    stopped = None
    while poll() is None:
        if cancel is not None and cancel.is_set():
            stopped = "grading was interrupted"
        elif time.monotonic() >= deadline:
            stopped = f"grading took longer than {timeout:g} s and was stopped"
        if stopped:
            kill_tree(pid)
            wait_step(10)
            break
        wait_step(min(0.5, max(0.0, deadline - time.monotonic())))
    return poll(), stopped


def kill_tree(pid: int) -> None:
    """Kill a grading process and all its descendants (its sandbox workers run in their own sessions)."""
    try:
        root = psutil.Process(pid)
        victims = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    for victim in victims:
        try:
            victim.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=5)


def child_main(workdir: str) -> None:
    """The grading process: grade the one submission in ``workdir`` and write report.json (or error.txt)."""
    work = Path(workdir)
    log = os.open(work / "grader.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    spec = json.loads((work / "task.json").read_text())
    sys.path[:0] = [entry for entry in spec["sys_path"] if entry not in sys.path]
    tempfile.tempdir = str(work / "tmp")  # sandbox scratch dirs land here and vanish with the task
    try:
        import torch
        torch.set_num_threads(1)  # N grading processes share the machine; one thread each, same numbers
        grader = resolve_grader(spec["grader"])
        limits = Limits(**spec["limits"]) if spec["limits"] else None
        report = grader(work / "submission" / spec["filename"], limits=limits, parts=spec["parts"])
        text = report.to_json()
        (work / "report.json.partial").write_text(text)
        os.replace(work / "report.json.partial", work / "report.json")
    except BaseException as exc:  # the supervisor turns this into the submission's flag
        (work / "error.txt").write_text(f"{type(exc).__name__}: {exc}")
        sys.stdout.flush()
        os._exit(1)


def resolve_grader(spec: str) -> Callable[..., GradeReport]:
    """``"module:function"`` -> the function; the default is the engine's grade_submission."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


# --------------------------------------------------------------------------- a whole batch

@dataclass
class Row:
    """One student's line in the gradebook."""

    student: str
    submission: str
    status: str  # "graded", "failed" (the grader could not grade it) or "missing" (nothing to grade)
    report: GradeReport
    reused: bool = False


@dataclass
class BatchResult:
    rows: list[Row]
    out: Path
    graded: int = 0
    reused: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.status == "failed"]


def wanted_parts(parts: Iterable[str] | None) -> list[str]:
    """The part tags a run grades, in the assignment's order."""
    chosen = set(parts) if parts else set(PART_TAGS)
    unknown = chosen - set(PART_TAGS)
    if unknown:
        raise ValueError(f"unknown parts: {', '.join(sorted(unknown))}")
    return [tag for tag in PART_TAGS if tag in chosen]


def grade_all(submitted: str | Path, out: str | Path, *, jobs: int | None = None, scheduler: str | None = None,
              parts: Iterable[str] | None = None, timeout: float = DEFAULT_TIMEOUT, assignment: str | None = None,
              limits: Limits | None = None, grader: str = DEFAULT_GRADER, progress: bool = True,
              how: str = "auto") -> BatchResult:
    """Grade every submission under ``submitted`` into ``out``; skip those graded before unchanged.

    ``jobs`` grading processes run at once on this machine (default: one per CPU), or the
    tasks go to the Dask scheduler at ``scheduler``.  A submission whose grading fails in
    any way gets a zero row with a flag saying why; the others are not affected.
    """
    started = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tags = wanted_parts(parts)
    parts_arg = None if tags == list(PART_TAGS) else tuple(tags)
    limits_dict = dataclasses.asdict(limits) if limits else None
    manifest = load_manifest(out)
    entries: dict[str, dict[str, Any]] = {}
    rows: dict[str, Row] = {}
    tasks: list[Task] = []
    sys_path = tuple(sys.path) if grader != DEFAULT_GRADER else ()  # so that a grader of one's own can be imported
    for found in discover(submitted, assignment, exclude=out):
        if found.path is None:
            report = failure_report("", "", list(found.problems), tags)
            rows[found.student] = Row(found.student, "", "missing", report)
            entries[found.student] = {"file": found.relative, "status": "missing"}
            _save_report(out, found.student, report)
            continue
        content = found.path.read_bytes()
        entry = {"file": found.relative, "digest": hashlib.sha256(content).hexdigest(), "engine_version": ENGINE_VERSION,
                 "parts": tags, "grader": grader, "limits": limits_dict, "problems": list(found.problems)}
        previous = reuse(out, found.student, manifest.get(found.student), entry)
        if previous is not None:
            rows[found.student] = Row(found.student, found.relative, "graded", previous, reused=True)
            entries[found.student] = dict(entry, status="graded")
            continue
        entries[found.student] = dict(entry, status="pending")
        tasks.append(Task(found.student, found.path.name, content, parts_arg, grader, limits_dict, sys_path))
    save_manifest(out, entries)  # students gone from the folder leave the manifest now

    relative = {name: entry["file"] for name, entry in entries.items()}

    def finish(task: Task, outcome: Outcome) -> Row:
        entry = entries[task.student]
        problems = list(entry["problems"])
        report = None
        if outcome.report_json is not None:
            try:
                report = GradeReport.from_gradescope(json.loads(outcome.report_json))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                outcome = Outcome(task.student, failure=f"the grader's report could not be read ({type(exc).__name__})")
        if report is not None:
            report.flags[:0] = problems
            status = "graded"
        else:
            report = failure_report(task.filename, entry["digest"], [*problems, f"grading failed: {outcome.failure}"], tags)
            status = "failed"
        _save_report(out, task.student, report)
        entries[task.student]["status"] = status
        save_manifest(out, entries)
        row = Row(task.student, relative[task.student], status, report)
        rows[task.student] = row
        return row

    reused = len(rows) - sum(1 for row in rows.values() if row.status == "missing")
    if tasks:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc="grading", unit="submission", disable=not progress, mininterval=0.5,
                   dynamic_ncols=True, file=sys.stderr)
        bar.set_postfix_str(f"{reused} unchanged skipped" if reused else "")
        runs = (_run_on_dask(tasks, scheduler, timeout) if scheduler else
                _run_locally(tasks, jobs or os.cpu_count() or 1, timeout, how))
        try:
            for task, outcome in runs:
                row = finish(task, outcome)
                if row.status == "failed":
                    bar.write(f"{row.student}: {row.report.flags[-1]}")
                bar.update(1)
        finally:
            runs.close()  # on Ctrl-C: stop the grading processes still running
            bar.close()
    ordered = [rows[name] for name in sorted(rows)]
    write_outputs(out, ordered)
    return BatchResult(ordered, out, graded=len(tasks), reused=reused, seconds=time.monotonic() - started)


def _run_locally(tasks: list[Task], jobs: int, timeout: float, how: str) -> Iterator[tuple[Task, Outcome]]:
    """Up to ``jobs`` grading processes at once; yields each (task, outcome) as it finishes."""
    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="autograder-supervisor")
    futures: dict[Future, Task] = {}
    try:
        futures = {pool.submit(run_isolated, task, timeout, how, cancel): task for task in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: futures[f].student):
                yield futures[future], _outcome_of(future, futures[future])
    finally:
        cancel.set()  # on Ctrl-C (or an error here) stop every grading process still running
        pool.shutdown(wait=True, cancel_futures=True)


def _run_on_dask(tasks: list[Task], address: str, timeout: float) -> Iterator[tuple[Task, Outcome]]:
    """The same tasks on a Dask cluster: each Dask task runs one isolated grading process."""
    from dask.distributed import Client, as_completed

    token = uuid.uuid4().hex[:8]
    with Client(address) as client:
        futures = {client.submit(run_isolated, task, timeout, "auto", key=f"autograder-grade-{task.student}-{token}",
                                 pure=False, retries=0): task for task in tasks}
        try:
            for future in as_completed(list(futures)):
                yield futures[future], _outcome_of(future, futures[future])
        finally:
            client.cancel(list(futures))


def _outcome_of(future: Any, task: Task) -> Outcome:
    """A future's Outcome; an exception in the supervision itself becomes that submission's failure."""
    try:
        return future.result()
    except BaseException as exc:  # KilledWorker, CancelledError, an OSError starting the process...
        return Outcome(task.student, failure=f"the grading task failed ({type(exc).__name__}: {exc})"[:1000])


# --------------------------------------------------------------------------- resume

def load_manifest(out: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return {}
    submissions = data.get("submissions")
    return submissions if isinstance(submissions, dict) else {}


def save_manifest(out: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Written after every submission (atomically), so an interrupted batch resumes where it stopped."""
    data = {"format": MANIFEST_FORMAT, "submissions": {name: entries[name] for name in sorted(entries)}}
    _write_atomic(out / "manifest.json", json.dumps(data, indent=2, sort_keys=True) + "\n")


def reuse(out: Path, student: str, previous: dict[str, Any] | None, entry: dict[str, Any]) -> GradeReport | None:
    """The earlier report if it graded this very content with this engine, parts and grader; else None."""
    if not previous or previous.get("status") != "graded":
        return None
    if any(previous.get(key) != value for key, value in entry.items()):
        return None
    try:
        report = GradeReport.from_gradescope(json.loads((out / student / "results.json").read_text()))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if report.digest != entry["digest"] or report.engine_version != ENGINE_VERSION:
        return None
    return report


def failure_report(submission: str, digest: str, flags: list[str], tags: list[str]) -> GradeReport:
    """A zero for every check of the graded parts; the last flag (why) is each check's output."""
    from autograder.checks import ALL_CHECKS

    report = GradeReport(submission=submission, digest=digest, engine_version=ENGINE_VERSION, flags=list(flags))
    output = flags[-1] if flags else "not graded"
    report.results = [CheckResult(entry.name, entry.part, entry.test_cell, 0.0, float(entry.points), output)
                      for entry in ALL_CHECKS if entry.part in tags]
    return report


def _save_report(out: Path, student: str, report: GradeReport) -> None:
    (out / student).mkdir(parents=True, exist_ok=True)
    _write_atomic(out / student / "results.json", report.to_json() + "\n")


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


# --------------------------------------------------------------------------- gradebook and summary

def _number(value: float) -> str:
    return format(round(value, 4), "g")


def csv_rows(rows: list[Row]) -> list[dict[str, str]]:
    """One dict per student with CSV_COLUMNS; a part not graded in this run is left empty."""
    lines = []
    for row in rows:
        parts = row.report.part_scores()
        line = {"student": row.student, "submission": row.submission}
        for tag in PART_TAGS:
            line[tag] = _number(parts[tag][0]) if tag in parts else ""
        line.update(total=_number(row.report.score), max=_number(row.report.max_score), status=row.status,
                    flags=" | ".join(" ".join(flag.split()) for flag in row.report.flags))
        lines.append(line)
    return lines


def grades_csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(rows))
    return buffer.getvalue()


def summarize(rows: list[Row], bins: int = 10, top: int = 10) -> dict[str, Any]:
    """Score distribution over the graded submissions, and the checks failed most often."""
    graded = [row for row in rows if row.status == "graded"]
    scores = [row.report.score for row in graded]
    max_scores = Counter(row.report.max_score for row in graded)
    out_of = max_scores.most_common(1)[0][0] if max_scores else 0.0
    distribution = None
    if scores:
        distribution = {"min": _round(min(scores)), "median": _round(statistics.median(scores)),
                        "max": _round(max(scores)), "mean": _round(statistics.fmean(scores)),
                        "stdev": _round(statistics.pstdev(scores))}
    histogram = []
    for index in range(bins):
        low, high = 100.0 * index / bins, 100.0 * (index + 1) / bins
        count = 0
        for row in graded:
            percent = 100.0 * row.report.score / row.report.max_score if row.report.max_score else 0.0
            if low <= percent < high or (index == bins - 1 and percent >= high):
                count += 1
        histogram.append({"from_percent": _round(low), "to_percent": _round(high), "count": count})
    failed_checks: Counter = Counter()
    check_parts: dict[str, str] = {}
    attempts: Counter = Counter()
    for row in graded:
        for result in row.report.results:
            attempts[result.name] += 1
            check_parts[result.name] = result.part
            if not result.passed:
                failed_checks[result.name] += 1
    order = {tag: index for index, tag in enumerate(PART_TAGS)}
    most_failed = sorted(failed_checks.items(), key=lambda item: (-item[1], order.get(check_parts[item[0]], 99), item[0]))
    parts: dict[str, Any] = {}
    for tag in PART_TAGS:
        got = [row.report.part_scores()[tag] for row in graded if tag in row.report.part_scores()]
        if got:
            parts[tag] = {"mean": _round(statistics.fmean(score for score, _ in got)), "max_score": _round(got[0][1])}
    return {
        "students": len(rows),
        "graded": len(graded),
        "failed": sorted(row.student for row in rows if row.status == "failed"),
        "missing": sorted(row.student for row in rows if row.status == "missing"),
        "flagged": sorted(row.student for row in graded if row.report.flags),
        "max_score": _round(out_of),
        "score": distribution,
        "histogram": histogram,
        "parts": parts,
        "most_failed_checks": [{"check": name, "part": check_parts[name], "failed": count, "of": attempts[name]}
                               for name, count in most_failed[:top]],
        "engine_version": ENGINE_VERSION,
    }


def _round(value: float) -> float:
    return round(float(value), 4)


def summary_text(summary: dict[str, Any]) -> str:
    """The summary for a human: counts, distribution, a text histogram, the most failed checks."""
    lines = [f"Students: {summary['students']}   graded: {summary['graded']}   "
             f"grading failed: {len(summary['failed'])}   missing: {len(summary['missing'])}"]
    score = summary["score"]
    if score:
        lines.append(f"Score out of {_number(summary['max_score'])}: min {_number(score['min'])}, "
                     f"median {_number(score['median'])}, mean {_number(score['mean'])}, max {_number(score['max'])} "
                     f"(stdev {_number(score['stdev'])})")
        lines.append("\nHistogram (percent of the maximum):")
        width = max(bucket["count"] for bucket in summary["histogram"]) or 1
        for bucket in summary["histogram"]:
            closing = "]" if bucket["to_percent"] >= 100 else ")"
            label = f"[{bucket['from_percent']:3.0f}, {bucket['to_percent']:3.0f}{closing}"
            lines.append(f"  {label:12} {bucket['count']:4d} {'#' * round(40 * bucket['count'] / width)}")
    if summary["parts"]:
        lines.append("\nMean per part:")
        lines += [f"  {tag:12} {_number(p['mean'])} / {_number(p['max_score'])}" for tag, p in summary["parts"].items()]
    if summary["most_failed_checks"]:
        lines.append("\nMost failed checks:")
        lines += [f"  {c['failed']:4d} of {c['of']:<4d} {c['check']} ({c['part']})" for c in summary["most_failed_checks"]]
    for key, title in (("failed", "Grading failed (see their results.json flags)"), ("missing", "Nothing to grade"),
                       ("flagged", "Graded with flags")):
        if summary[key]:
            lines.append(f"\n{title}: {', '.join(summary[key])}")
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, rows: list[Row]) -> None:
    """grades.csv, summary.json and summary.txt for the whole folder (graded now or before)."""
    _write_atomic(out / "grades.csv", grades_csv(rows))
    summary = summarize(rows)
    _write_atomic(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _write_atomic(out / "summary.txt", summary_text(summary))
