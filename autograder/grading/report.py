"""A grading run's results, and the forms they leave in: text, Gradescope results.json, CSV rows."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grading import scoring


@dataclass
class CheckResult:
    name: str
    part: str
    test_cell: str
    score: float
    max_score: float
    output: str

    @property
    def passed(self) -> bool:
        return scoring.has_passed(self.score, self.max_score)


@dataclass
class GradeReport:
    """Everything the grader decided about one submission."""

    submission: str
    digest: str
    engine_version: str
    results: list[CheckResult] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return scoring.total(self.results)[0]

    @property
    def max_score(self) -> float:
        return scoring.total(self.results)[1]

    def part_scores(self) -> dict[str, tuple[float, float]]:
        return scoring.subtotals(self.results, key=lambda result: result.part)

    def cell_scores(self) -> dict[str, tuple[float, float]]:
        return scoring.subtotals(self.results, key=lambda result: result.test_cell)

    def cell_feedback(self, test_cell: str) -> str:
        """The text a student sees under one autograded test cell."""
        lines = []
        for result in self.results:
            if result.test_cell != test_cell:
                continue
            mark = "PASS" if result.passed else "FAIL"
            lines.append(f"[{mark}] {result.name} ({result.score:g}/{result.max_score:g})")
            if result.output:
                lines += ["    " + line for line in result.output.splitlines()]
        parts = {result.part for result in self.results if result.test_cell == test_cell}
        for part in sorted(parts):
            lines += [f"note: {note}" for note in self.notes.get(part, [])]
        return "\n".join(lines)

    def to_gradescope(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "tests": [{"name": r.name, "score": r.score, "max_score": r.max_score, "output": r.output,
                       "tags": [r.part, r.test_cell]} for r in self.results],
            "extra_data": {"submission": self.submission, "digest": self.digest,
                           "engine_version": self.engine_version, "flags": self.flags, "notes": self.notes},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_gradescope(), indent=2, sort_keys=True)

    def text(self) -> str:
        lines = [f"Submission: {self.submission}", f"Score: {self.score:g} / {self.max_score:g}"]
        for part, (got, out_of) in self.part_scores().items():
            lines.append(f"\n== {part}: {got:g} / {out_of:g}")
            for note in self.notes.get(part, []):
                lines.append(f"  note: {note}")
            for result in (r for r in self.results if r.part == part):
                mark = "PASS" if result.passed else "FAIL"
                lines.append(f"  [{mark}] {result.name} ({result.score:g}/{result.max_score:g})")
                lines += ["      " + line for line in result.output.splitlines()]
        if self.flags:
            lines.append("\nFlags:")
            lines += [f"  - {flag}" for flag in self.flags]
        return "\n".join(lines)

    @classmethod
    def from_gradescope(cls, data: dict[str, Any]) -> GradeReport:
        extra = data.get("extra_data", {})
        report = cls(submission=extra.get("submission", ""), digest=extra.get("digest", ""),
                     engine_version=extra.get("engine_version", ""), flags=list(extra.get("flags", [])),
                     notes=dict(extra.get("notes", {})))
        report.results = [CheckResult(name=t["name"], part=t["tags"][0], test_cell=t["tags"][1], score=t["score"],
                                      max_score=t["max_score"], output=t.get("output", "")) for t in data["tests"]]
        return report

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

