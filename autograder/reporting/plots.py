"""The class report's charts as self-contained PNG data URIs (matplotlib, no display, no files).

A ``Figure`` is drawn on its own Agg canvas, never through pyplot, so making charts changes no
global backend state in the process that grades.  Text that came from a submission (a student's
name) has its ``$`` escaped, so that matplotlib never reads it as mathematics.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from matplotlib.figure import Figure

BAR = "#4c72b0"
FAILED = "#c44e52"


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plain_text(text: str) -> str:
    """Text matplotlib draws as written."""
    return text.replace("$", r"\$")


def histogram(values: Sequence[float], out_of: float, title: str, width: float = 6.0) -> str:
    """How many submissions got each score from 0 to ``out_of`` (ten bins)."""
    figure = Figure(figsize=(width, 2.8))
    axes = figure.subplots()
    top = out_of if out_of > 0 else max(values, default=1.0) or 1.0
    axes.hist(values, bins=10, range=(0.0, top), color=BAR, edgecolor="white")
    axes.set_xlim(0.0, top)
    axes.set_xlabel(f"score (out of {top:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(plain_text(title))
    return _data_uri(figure)


def pass_rates(labels: Sequence[str], rates: Sequence[float]) -> str:
    """One horizontal bar per check, in the order given (the caller sorts), the rate as a percentage."""
    figure = Figure(figsize=(7.0, 0.8 + 0.28 * len(labels)))
    axes = figure.subplots()
    positions = range(len(labels))
    axes.barh(positions, [100.0 * rate for rate in rates], color=[BAR if rate >= 0.5 else FAILED for rate in rates])
    axes.set_yticks(list(positions), labels=[plain_text(label) for label in labels], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("submissions passing (%)")
    return _data_uri(figure)


def durations(labels: Sequence[str], seconds: Sequence[float]) -> str:
    """Grading time of each submission, slowest first as given."""
    figure = Figure(figsize=(7.0, 0.8 + 0.25 * len(labels)))
    axes = figure.subplots()
    positions = range(len(labels))
    axes.barh(positions, list(seconds), color=BAR)
    axes.set_yticks(list(positions), labels=[plain_text(label) for label in labels], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("grading time (s)")
    return _data_uri(figure)
