"""Probe for Part B's hook: train the course classifier for a few steps with the student's hook in place.

The schedule itself (:func:`autograder.assignment.hook_schedule.run_schedule`) is shared with the
grader, which runs the very same steps with the reference hook.
"""
from __future__ import annotations

from typing import Any

from autograder.assignment.hook_schedule import run_schedule
from autograder.probes import StudentAPIError, defined_by_student, probe


@probe
def hook_training(namespace: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Run the schedule with the student's make_attention_hook and register_attention_hook."""
    make_hook = defined_by_student(namespace, "make_attention_hook")
    register = defined_by_student(namespace, "register_attention_hook")
    for name, function in (("make_attention_hook", make_hook), ("register_attention_hook", register)):
        if not callable(function):
            raise StudentAPIError(f"{name} should be a function")
    return run_schedule(namespace, make_hook, register, **kwargs)
