"""Part A checks through the engine: correct code in any style gets full marks, each mistake loses the check that names it."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autograder.grading.engine import grade_submission

HEADER = "import math\nimport numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

SDPA = '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ V, weights
'''
MHA = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def forward(self, x, mask=None):
        b, n, _ = x.shape
        split = lambda t: t.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        context, weights = scaled_dot_product_attention(split(self.W_q(x)), split(self.W_k(x)), split(self.W_v(x)), mask)
        return self.W_o(context.transpose(1, 2).reshape(b, n, self.embed_dim)), weights
'''

CORRECT_SDPA = {
    "bmm_finfo_min": '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    shape = Q.shape[:-2]
    q, k, v = (t.reshape(-1, *t.shape[-2:]) for t in (Q, K, V))
    scores = torch.bmm(q, k.transpose(1, 2)).view(*shape, Q.size(-2), K.size(-2)) / Q.size(-1) ** 0.5
    if mask is not None:
        scores = torch.where(mask.bool(), scores, torch.finfo(scores.dtype).min)
    weights = scores.softmax(-1)
    return weights @ V, weights
''',
    "additive_float64_softmax": '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", Q, K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores + (mask == 0).to(scores.dtype) * -1e9
    weights = torch.softmax(scores.double(), dim=-1).to(Q.dtype)
    return torch.einsum("...qk,...kd->...qd", weights, V), weights
''',
}
MISTAKES_SDPA = {
    "scale_by_d_k": (SDPA.replace("math.sqrt(Q.size(-1))", "Q.size(-1)"), "sdpa_values"),
    "mask_inverted": (SDPA.replace("mask == 0", "mask != 0"), "sdpa_mask"),
    "softmax_wrong_axis": (SDPA.replace("dim=-1", "dim=-2"), "sdpa_values"),
    "in_place_scaling": (SDPA.replace("    scores = Q @", "    Q /= math.sqrt(Q.size(-1))\n    scores = Q @")
                         .replace(" / math.sqrt(Q.size(-1))\n", "\n", 1), "sdpa_inputs_unchanged"),
    "detached_output": (SDPA.replace("return weights @ V, weights", "return (weights @ V).detach(), weights"),
                        "sdpa_gradients"),
    "mask_filled_with_zero": (SDPA.replace("-1e9", "0.0"), "sdpa_mask"),
}
MISTAKES_MHA = {
    "missing_W_o": (MHA.replace("return self.W_o(context", "return (context"), "mha_context"),
    "heads_merged_without_transpose": (MHA.replace("context.transpose(1, 2).reshape", "context.reshape"), "mha_context"),
    "mask_not_passed": (MHA.replace("split(self.W_v(x)), mask)", "split(self.W_v(x)))"), "mha_mask"),
}


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(source))
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("part_a")
    submissions = {"reference": SDPA + MHA}
    submissions.update({name: source + MHA for name, source in CORRECT_SDPA.items()})
    submissions.update({name: source + MHA for name, (source, _) in MISTAKES_SDPA.items()})
    submissions.update({name: SDPA + source for name, (source, _) in MISTAKES_MHA.items()})
    return {name: grade_submission(_write(folder, name, source), parts=["part-a"])
            for name, source in submissions.items()}


def _failed(report) -> set[str]:
    return {result.name for result in report.results if not result.passed}


@pytest.mark.parametrize("name", ["reference", *CORRECT_SDPA])
def test_correct_code_in_any_style_gets_full_marks(graded: dict, name: str) -> None:
    report = graded[name]
    assert report.score == report.max_score == 30, report.text()


@pytest.mark.parametrize("name", [*MISTAKES_SDPA, *MISTAKES_MHA])
def test_each_mistake_loses_the_check_that_names_it(graded: dict, name: str) -> None:
    expected = {**MISTAKES_SDPA, **MISTAKES_MHA}[name][1]
    assert expected in _failed(graded[name]), graded[name].text()


def test_failure_reports_a_small_counterexample_with_numbers(graded: dict) -> None:
    output = next(r.output for r in graded["scale_by_d_k"].results if r.name == "sdpa_values")
    assert "expected" in output.lower() and any(ch.isdigit() for ch in output), output


def test_grading_is_deterministic(graded: dict, tmp_path: Path) -> None:
    again = grade_submission(_write(tmp_path, "scale_by_d_k", MISTAKES_SDPA["scale_by_d_k"][0] + MHA), parts=["part-a"])
    first = graded["scale_by_d_k"]
    assert [(r.name, r.score, r.output) for r in again.results] == [(r.name, r.score, r.output) for r in first.results]

