"""The machinery every check shares: the conditions a check runs under, and the closeness rule."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from autograder.checks.compare import FLOAT32_VS_FLOAT32, FLOAT32_VS_FLOAT64, close
from autograder.checks.registry import Check


def test_a_check_runs_on_one_thread_and_leaves_every_random_state_as_it_was():
    seen = {}

    def draws_everything(student) -> str:
        seen["threads"] = torch.get_num_threads()
        random.random(), np.random.random(), torch.rand(1)
        return "ok"

    torch.set_num_threads(2)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.random.get_rng_state()
    entry = Check(name="draws_everything", part="part-a", test_cell="test_sdpa", points=1, function=draws_everything)
    assert entry.run(student=None) == "ok"
    assert seen["threads"] == 1 and torch.get_num_threads() == 2
    assert random.getstate() == states[0] and np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.random.get_rng_state(), states[2])


def test_only_a_check_registered_alongside_may_run_beside_others():
    entry = Check(name="draws", part="part-a", test_cell="test_sdpa", points=1, function=lambda student: "ok")
    with pytest.raises(ValueError, match="random states"):
        entry.run(student=None, beside_others=True)
    torch.set_num_threads(2)
    seen = {}

    def counts_threads(student) -> str:
        seen["threads"] = torch.get_num_threads()
        return "ok"

    beside = Check(name="beside", part="part-a", test_cell="test_sdpa", points=1, function=counts_threads, alongside=True)
    assert beside.run(student=None, beside_others=True) == "ok"
    assert seen["threads"] == 1 and torch.get_num_threads() == 2


def test_closeness_needs_the_shape_and_scales_only_where_the_tolerance_says():
    expected = np.array([1000.0, 0.0])
    assert not close(None, expected, FLOAT32_VS_FLOAT64) and not close(np.zeros(3), expected, FLOAT32_VS_FLOAT64)
    off = expected + np.array([0.0, 5e-3])    # |5e-3| <= 1e-5 * 1000 only where atol grows with the values
    assert close(off, expected, FLOAT32_VS_FLOAT64) and not close(off, expected, FLOAT32_VS_FLOAT32)
    further = expected + np.array([0.0, 2e-2])
    assert not close(further, expected, FLOAT32_VS_FLOAT64)
