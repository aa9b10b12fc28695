"""Part A: the student's scaled_dot_product_attention and MultiHeadAttention, by their behaviour."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

from autograder import reference
from autograder.checks.base import CheckFailed, Student, check, describe_mismatch, for_all

PART = "part-a"


@dataclass(frozen=True)
class AttentionCase:
    batch: int
    heads: int
    q_len: int
    k_len: int
    head_dim: int
    seed: int

    def __str__(self) -> str:
        return (f"Q of shape ({self.batch}, {self.heads}, {self.q_len}, {self.head_dim}), "
                f"K and V of shape ({self.batch}, {self.heads}, {self.k_len}, {self.head_dim})")

    def inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        shape_q = (self.batch, self.heads, self.q_len, self.head_dim)
        shape_k = (self.batch, self.heads, self.k_len, self.head_dim)
        return (rng.standard_normal(shape_q).astype(np.float32), rng.standard_normal(shape_k).astype(np.float32),
                rng.standard_normal(shape_k).astype(np.float32))


attention_cases = st.builds(AttentionCase, batch=st.integers(1, 3), heads=st.integers(1, 4), q_len=st.integers(1, 6),
                            k_len=st.integers(1, 6), head_dim=st.integers(1, 8), seed=st.integers(0, 2**16))


@check("sdpa_values", part=PART, test_cell="test_sdpa", points=4)
def sdpa_values(student: Student) -> None:
    """scaled_dot_product_attention computes softmax(QK^T/sqrt(d_k))V and returns its weights."""
    def test(case: AttentionCase) -> None:
        Q, K, V = case.inputs()
        got = student.call("sdpa", Q=Q, K=K, V=V)
        expected_out, expected_w = reference.scaled_dot_product_attention(
            *(torch.from_numpy(a).double() for a in (Q, K, V)))
        for what, expected, actual in (("attention weights", expected_w, got["weights"]),
                                       ("output", expected_out, got["output"])):
            if np.shape(actual) != tuple(expected.shape) or not np.allclose(actual, expected.numpy(), rtol=1e-4, atol=1e-5):
                raise CheckFailed(f"{case}:\n{describe_mismatch(what, expected.numpy(), actual)}")

    for_all(attention_cases, test, examples=40)


MASK_SHAPES = ("padding (batch, 1, 1, k)", "causal (q, k)", "causal (1, 1, q, k)", "full (batch, heads, q, k)")
MASK_DTYPES = ("bool", "int64", "float32")


@dataclass(frozen=True)
class MaskedCase:
    shapes: AttentionCase
    layout: str
    dtype: str
    fully_masked_row: bool

    def __str__(self) -> str:
        extra = ", with one query whose every key is masked" if self.fully_masked_row else ""
        return f"{self.shapes}, a {self.dtype} {self.layout} mask{extra}"

    def mask(self) -> np.ndarray:
        c = self.shapes
        rng = np.random.default_rng(c.seed + 1)
        if self.layout.startswith("padding"):
            keep = rng.random((c.batch, 1, 1, c.k_len)) < 0.7
            keep[..., 0] = True
        elif self.layout.startswith("causal"):
            keep = np.tril(np.ones((c.q_len, c.k_len), dtype=bool))
            keep[:, 0] = True
            if self.layout.endswith("(1, 1, q, k)"):
                keep = keep[None, None]
        else:
            keep = rng.random((c.batch, c.heads, c.q_len, c.k_len)) < 0.6
            keep[..., 0] = True
        if self.fully_masked_row:
            keep = np.broadcast_to(keep, (c.batch, c.heads, c.q_len, c.k_len)).copy()
            keep[..., 0, :] = False
        return keep.astype(self.dtype)


masked_cases = st.builds(MaskedCase, shapes=attention_cases, layout=st.sampled_from(MASK_SHAPES),
                         dtype=st.sampled_from(MASK_DTYPES), fully_masked_row=st.booleans())


def _reference_sdpa(Q: np.ndarray, K: np.ndarray, V: np.ndarray, mask: np.ndarray | None = None):
    tensors = [torch.from_numpy(a).double() for a in (Q, K, V)]
    return reference.scaled_dot_product_attention(*tensors, None if mask is None else torch.from_numpy(mask))


def _compare(case: object, what: str, expected: torch.Tensor | np.ndarray, got: np.ndarray, atol: float = 1e-5) -> None:
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    if np.shape(got) != np.shape(expected) or not np.allclose(got, expected, rtol=1e-4, atol=atol):
        raise CheckFailed(f"{case}:\n{describe_mismatch(what, expected, got)}")


@check("sdpa_masks", part=PART, test_cell="test_sdpa", points=5)
def sdpa_masks(student: Student) -> None:
    """Keys where mask == 0 get zero weight, for bool, int and float masks of every broadcast shape."""
    def test(case: MaskedCase) -> None:
        Q, K, V = case.shapes.inputs()
        mask = case.mask()
        got = student.call("sdpa", Q=Q, K=K, V=V, mask=mask)
        expected_out, expected_w = _reference_sdpa(Q, K, V, mask)
        _compare(case, "attention weights (masked keys must get 0; a query with every key masked "
                       "gets uniform weights under the -1e9 convention)", expected_w, got["weights"])
        _compare(case, "output", expected_out, got["output"])

    for_all(masked_cases, test, examples=40)


@check("sdpa_stable_for_large_scores", part=PART, test_cell="test_sdpa", points=2)
def sdpa_stable_for_large_scores(student: Student) -> None:
    """Large scores give no NaN or inf (softmax must stay numerically stable)."""
    def test(case: AttentionCase) -> None:
        Q, K, V = case.inputs()
        Q, K = Q * 300.0, K * 300.0
        got = student.call("sdpa", Q=Q, K=K, V=V)
        if not (np.all(np.isfinite(got["weights"])) and np.all(np.isfinite(got["output"]))):
            raise CheckFailed(f"{case}, entries of Q and K around 300: your weights or output contain NaN or inf")
        expected_out, expected_w = _reference_sdpa(Q, K, V)
        _compare(case, "attention weights for large scores", expected_w, got["weights"], atol=1e-4)

    for_all(attention_cases, test, examples=15)


@check("sdpa_gradients", part=PART, test_cell="test_sdpa", points=2)
def sdpa_gradients(student: Student) -> None:
    """Gradients flow to Q, K and V and equal the reference's."""
    def test(case: AttentionCase) -> None:
        Q, K, V = case.inputs()
        rng = np.random.default_rng(case.seed + 2)
        grad_output = rng.standard_normal((case.batch, case.heads, case.q_len, case.head_dim))
        got = student.call("sdpa", Q=Q, K=K, V=V, grad_output=grad_output)
        tensors = [torch.from_numpy(a).double().requires_grad_() for a in (Q, K, V)]
        output, _ = reference.scaled_dot_product_attention(*tensors)
        (output * torch.from_numpy(grad_output)).sum().backward()
        for name, tensor_ in zip("QKV", tensors):
            if got.get(f"grad_{name}") is None:
                raise CheckFailed(f"{case}: no gradient reaches {name} (was something detached or rebuilt without autograd?)")
            _compare(case, f"gradient with respect to {name}", tensor_.grad, got[f"grad_{name}"], atol=1e-4)

    for_all(attention_cases, test, examples=15)


@check("sdpa_leaves_inputs_unchanged", part=PART, test_cell="test_sdpa", points=2)
def sdpa_leaves_inputs_unchanged(student: Student) -> None:
    """Q, K and V are not modified in place."""
    def test(case: AttentionCase) -> None:
        Q, K, V = case.inputs()
        got = student.call("sdpa", Q=Q, K=K, V=V)
        for name, before in zip("QKV", (Q, K, V)):
            if not np.array_equal(got[f"{name}_after"], before):
                raise CheckFailed(f"{case}: your function changed {name} in place (e.g. `{name} /= ...`); "
                                  "compute new tensors instead")

    for_all(attention_cases, test, examples=10)


@dataclass(frozen=True)
class ModuleCase:
    batch: int
    seq_len: int
    num_heads: int
    head_dim: int
    padded: bool
    seed: int

    @property
    def embed_dim(self) -> int:
        return self.num_heads * self.head_dim

    def __str__(self) -> str:
        padding = " and a padding mask (batch, 1, 1, seq_len)" if self.padded else ""
        return (f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}) on x of shape "
                f"({self.batch}, {self.seq_len}, {self.embed_dim}){padding}")

    def data(self) -> dict[str, np.ndarray | None]:
        rng = np.random.default_rng(self.seed)
        e = self.embed_dim
        parameters = {f"{name}.{kind}": (rng.standard_normal((e, e) if kind == "weight" else (e,)) / np.sqrt(e)).astype(np.float32)
                      for name in ("W_q", "W_k", "W_v", "W_o") for kind in ("weight", "bias")}
        x = rng.standard_normal((self.batch, self.seq_len, e)).astype(np.float32)
        mask = None
        if self.padded:
            keep = rng.random((self.batch, 1, 1, self.seq_len)) < 0.7
            keep[..., 0] = True
            mask = keep
        return {"parameters": parameters, "x": x, "mask": mask}


module_cases = st.builds(ModuleCase, batch=st.integers(1, 3), seq_len=st.integers(1, 6), num_heads=st.integers(1, 4),
                         head_dim=st.integers(1, 4), padded=st.booleans(), seed=st.integers(0, 2**16))


def _reference_module(case: ModuleCase, data: dict) -> tuple[reference.MultiHeadAttention, torch.Tensor]:
    module = reference.MultiHeadAttention(case.embed_dim, case.num_heads).double()
    with torch.no_grad():
        for name, value in data["parameters"].items():
            layer, kind = name.split(".")
            getattr(getattr(module, layer), kind).copy_(torch.from_numpy(value).double())
    return module.eval(), torch.from_numpy(data["x"]).double().requires_grad_()


def _call_module(student: Student, case: ModuleCase, data: dict, **extra: np.ndarray) -> dict:
    return student.call("mha", embed_dim=case.embed_dim, num_heads=case.num_heads, parameters=data["parameters"],
                        x=data["x"], mask=data["mask"], **extra)


@check("mha_shapes", part=PART, test_cell="test_mha", points=3)
def mha_shapes(student: Student) -> None:
    """forward returns (context, weights) of shapes (batch, seq, embed) and (batch, heads, seq, seq), for any sizes."""
    def test(case: ModuleCase) -> None:
        got = _call_module(student, case, case.data())
        want_context = (case.batch, case.seq_len, case.embed_dim)
        want_weights = (case.batch, case.num_heads, case.seq_len, case.seq_len)
        if tuple(np.shape(got["context"])) != want_context or tuple(np.shape(got["weights"])) != want_weights:
            raise CheckFailed(f"{case}: got context {tuple(np.shape(got['context']))} and weights "
                              f"{tuple(np.shape(got['weights']))}; expected {want_context} and {want_weights}")
        if not np.array_equal(got["x_after"], case.data()["x"]):
            raise CheckFailed(f"{case}: forward changed its input x in place")

    for_all(module_cases, test, examples=20)


@check("mha_values", part=PART, test_cell="test_mha", points=5)
def mha_values(student: Student) -> None:
    """With the reference's W_q, W_k, W_v, W_o copied in (eval mode), context and weights equal the reference."""
    def test(case: ModuleCase) -> None:
        data = case.data()
        got = _call_module(student, case, data)
        module, x = _reference_module(case, data)
        context, weights = module(x, None if data["mask"] is None else torch.from_numpy(data["mask"]))
        _compare(case, "attention weights", weights, got["weights"])
        _compare(case, "context vector (heads merged back in order, then W_o)", context, got["context"])

    for_all(module_cases, test, examples=30)


@check("mha_gradients", part=PART, test_cell="test_mha", points=4)
def mha_gradients(student: Student) -> None:
    """Gradients reach x and every parameter of W_q, W_k, W_v, W_o and equal the reference's."""
    def test(case: ModuleCase) -> None:
        data = case.data()
        grad_output = np.random.default_rng(case.seed + 3).standard_normal(
            (case.batch, case.seq_len, case.embed_dim))
        got = _call_module(student, case, data, grad_output=grad_output)
        module, x = _reference_module(case, data)
        context, _ = module(x, None if data["mask"] is None else torch.from_numpy(data["mask"]))
        (context * torch.from_numpy(grad_output)).sum().backward()
        expected = {"x": x.grad}
        for name in ("W_q", "W_k", "W_v", "W_o"):
            layer = getattr(module, name)
            expected[f"{name}.weight"], expected[f"{name}.bias"] = layer.weight.grad, layer.bias.grad
        for name, value in expected.items():
            key = "grad_x" if name == "x" else f"grad_{name}"
            if got.get(key) is None:
                raise CheckFailed(f"{case}: no gradient reaches {name}: is it used in forward?")
            _compare(case, f"gradient with respect to {name}", value, got[key], atol=1e-4)

    for_all(module_cases, test, examples=15)


@check("mha_padding_mask", part=PART, test_cell="test_mha", points=3)
def mha_padding_mask(student: Student) -> None:
    """A padding mask (batch, 1, 1, seq) reaches every head: padded keys get zero weight."""
    def test(case: ModuleCase) -> None:
        data = case.data()
        if data["mask"] is None:
            return
        got = _call_module(student, case, data)
        masked = np.broadcast_to(data["mask"] == 0, np.shape(got["weights"]))
        if masked.any() and np.abs(got["weights"][masked]).max() > 1e-6:
            raise CheckFailed(f"{case}: padded keys get weight up to {np.abs(got['weights'][masked]).max():.3g}; "
                              "pass the mask on to scaled_dot_product_attention")

    for_all(module_cases.filter(lambda c: c.padded), test, examples=15)
