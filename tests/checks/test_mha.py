"""The pieces test_mha's checks are made of, in process (no worker): mistakes, reference, the front door."""
from __future__ import annotations

import numpy as np
from test_sdpa import notebook_namespace

from autograder.checks.cases import MhaCase, mha_expected
from autograder.checks.mistakes import MHA_MISTAKES, mha_variant


def test_no_known_mistake_gives_the_reference_and_the_variant_without_one_does():
    case = MhaCase(2, 3, 2, 2, mask="padding", seed=4)
    expected = mha_expected(case)
    for options, _ in MHA_MISTAKES:
        context, weights = mha_variant(case, **options)
        assert max(np.abs(context - expected["context"]).max(), np.abs(weights - expected["weights"]).max()) > 1e-3
    context, weights = mha_variant(case)
    np.testing.assert_allclose(context, expected["context"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, expected["weights"], rtol=1e-12, atol=1e-12)


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's solution passes every test_mha check."""
    from autograder.checks import ALL_CHECKS
    from autograder.notebook import check_namespace

    report = check_namespace("test_mha", notebook_namespace())
    assert report.score == sum(entry.points for entry in ALL_CHECKS if entry.test_cell == "test_mha"), report.text()


MODULE = '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ V, weights


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.W_q, self.W_k = nn.Linear(embed_dim, embed_dim), nn.Linear(embed_dim, embed_dim)
        self.W_v, self.W_o = nn.Linear(embed_dim, embed_dim), nn.Linear(embed_dim, embed_dim)

    def forward(self, x, mask=None):
        b, n, e = x.shape
        Q, K, V = (w(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2) for w in (self.W_q, self.W_k, self.W_v))
        context, weights = ATTENTION
        return self.W_o(context.transpose(1, 2).reshape(b, n, e)), RETURNED
'''
INLINE_NEG_INF = ("(lambda s: (torch.softmax(s, -1) @ V, torch.softmax(s, -1)))("
                  "(Q @ K.transpose(-2, -1) / math.sqrt(self.head_dim)).masked_fill(mask == 0, float('-inf')) "
                  "if mask is not None else Q @ K.transpose(-2, -1) / math.sqrt(self.head_dim))")


def module_student(attention="scaled_dot_product_attention(Q, K, V, mask)", returned="weights"):
    from test_sdpa import live_student

    return live_student(MODULE.replace("ATTENTION", attention).replace("RETURNED", returned))


def test_a_fully_padded_sequence_fails_a_module_whose_own_attention_fills_minus_infinity():
    import pytest

    from autograder.checks.mha import mha_mask
    from autograder.errors import CheckFailed

    mha_mask.run(module_student())
    with pytest.raises(CheckFailed, match="padding only"):
        mha_mask.run(module_student(INLINE_NEG_INF))


def test_a_per_head_loop_with_the_same_mask_for_each_head_passes_the_mask_check():
    from autograder.checks.mha import mha_mask

    loop = ("(lambda pairs: (torch.cat([p[0] for p in pairs], 1), torch.cat([p[1] for p in pairs], 1)))("
            "[scaled_dot_product_attention(Q[:, h:h + 1], K[:, h:h + 1], V[:, h:h + 1], mask) "
            "for h in range(self.num_heads)])")
    mha_mask.run(module_student(loop))


def test_detached_weights_keep_the_module_gradient_points():
    from autograder.checks.mha import mha_gradients

    mha_gradients.run(module_student(returned="weights.detach()"))


def test_a_layer_without_bias_is_graded_with_that_bias_zero_and_loses_the_gradient_points_only():
    import pytest
    from test_sdpa import live_student

    from autograder.checks.mha import mha_context, mha_gradients
    from autograder.errors import CheckFailed

    no_bias_q = MODULE.replace("nn.Linear(embed_dim, embed_dim)", "nn.Linear(embed_dim, embed_dim, bias=False)", 1)
    student = live_student(no_bias_q.replace("ATTENTION", "scaled_dot_product_attention(Q, K, V, mask)")
                           .replace("RETURNED", "weights"))
    mha_context.run(student)
    with pytest.raises(CheckFailed, match=r"^W_q has no bias; the notebook asks for nn.Linear\(embed_dim, embed_dim\), "
                                          "which has one"):
        mha_gradients.run(student)


def test_a_layer_without_bias_takes_no_bias_but_zero():
    """What the worker loads: a bias-less layer refuses a non-zero bias (the grader sends zero ones only)."""
    import pytest
    from torch import nn

    from autograder.probes import StudentAPIError
    from autograder.probes.mha import load_attention_parameters

    module = nn.Module()
    for name in ("W_q", "W_k", "W_v", "W_o"):
        setattr(module, name, nn.Linear(2, 2, bias=name != "W_k"))
    parameters = {f"{name}.{kind}": np.ones((2, 2) if kind == "weight" else 2, dtype=np.float32)
                  for name in ("W_q", "W_k", "W_v", "W_o") for kind in ("weight", "bias")}
    with pytest.raises(StudentAPIError, match="W_k has no bias"):
        load_attention_parameters(module, parameters)
    load_attention_parameters(module, {**parameters, "W_k.bias": np.zeros(2, dtype=np.float32)})
    assert float(module.W_v.bias.detach().sum()) == 2.0
