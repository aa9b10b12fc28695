"""The course's feedback setting (issue 17): full diagnosis by default, or what failed and where to look.

The fixed layer's full diagnosis writes out the corrected wiring, which is also the hand-graded bug
analysis; a course that releases feedback before hand grading sets brief feedback.
"""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checks.encoder_cases import LayerCase
from autograder.checks.fixed_encoder import _wrong_wiring
from autograder.checks.registry import Check
from autograder.errors import CheckFailed
from autograder.grading.engine import run_check
from autograder.grading.feedback import FEEDBACK_ENV


def _failing_check(exc: CheckFailed) -> Check:
    def function(student):
        raise exc

    return Check(name="demo", part="part-b-fix", test_cell="test_fixed_encoder", points=1.0, function=function)


@pytest.mark.parametrize("setting, shown", [(None, "full diagnosis"), ("full", "full diagnosis"),
                                            ("brief", "what failed"), ("BRIEF ", "what failed"),
                                            ("nonsense", "full diagnosis")])
def test_the_setting_chooses_what_a_failed_check_shows(monkeypatch, setting, shown):
    if setting is None:
        monkeypatch.delenv(FEEDBACK_ENV, raising=False)
    else:
        monkeypatch.setenv(FEEDBACK_ENV, setting)
    result, flag = run_check(_failing_check(CheckFailed("full diagnosis", brief="what failed")), student=None)
    assert (result.output, result.score, flag) == (shown, 0.0, None)


def test_a_check_without_a_brief_text_always_shows_its_message(monkeypatch):
    monkeypatch.setenv(FEEDBACK_ENV, "brief")
    result, _ = run_check(_failing_check(CheckFailed("the output differs")), student=None)
    assert result.output == "the output differs"


def test_the_brief_wiring_diagnosis_does_not_give_the_fix_away():
    case = LayerCase(batch=1, length=3, shape=(1, 3), mask="all", seed=0)
    got = {"output": np.zeros((1, 3, 16)), "weights": np.full((1, 4, 3, 3), 1 / 3)}
    failure = _wrong_wiring(case, got, "in eval mode your layer's output or attention weights are wrong.")
    assert "norm" in str(failure) and "+" in str(failure)  # the full diagnosis names the formula
    assert "norm1(" not in failure.brief and " + " not in failure.brief
    assert "output or attention weights are wrong" in failure.brief
