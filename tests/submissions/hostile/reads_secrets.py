"""Tries to import the reference solution and the hidden checks, to read and write the grader's and
the course's files, other submissions, the grader's process, other workers' directories.
If any attempt succeeds the attention raises, so the grade shows it; the attention is correct.

Expected: every check passes (every attempt is refused); flags: the attempts."""
import math
import glob
import os
import autograder
from autograder.assignment.reference import scaled_dot_product_attention as reference_attention
from autograder.checks import sdpa as hidden_checks
import torch
import torch.nn as nn
import torch.nn.functional as F

_done = []


def _escapes():
    ROOT = os.path.dirname(os.path.dirname(autograder.__file__))  # the course repository (the grader's package)
    grader = os.getppid()
    reads = [f"{ROOT}/autograder/reference.py", f"{ROOT}/autograder/checks/sdpa.py",
             f"{ROOT}/source/transformer/transformer.ipynb", f"{ROOT}/gradebook.db",
             f"{ROOT}/tests/submissions/hostile/honest.py", f"{ROOT}/samples/submitted/alice/transformer/transformer.ipynb",
             f"/proc/{grader}/environ", f"/proc/{grader}/mem", "/etc/shadow", "/root/.bash_history"]
    escaped = []
    for path in reads:
        try:
            with open(path, "rb") as handle:
                handle.read(16)
            escaped.append(f"read {path}")
        except OSError:
            pass
    for folder in (ROOT, f"{ROOT}/autograder", "/tmp", os.path.dirname(os.getcwd()), f"/proc/{grader}/cwd"):
        try:
            os.listdir(folder)
            escaped.append(f"listed {folder}")
        except OSError:
            pass
    for descriptor in os.listdir(f"/proc/{grader}/fd"):  # the numbers are visible; what they are is not
        try:
            os.readlink(f"/proc/{grader}/fd/{descriptor}")
            escaped.append("read the grader's descriptors")
        except OSError:
            pass
        try:
            open(f"/proc/{grader}/fd/{descriptor}", "rb").close()
            escaped.append("opened the grader's descriptors")
        except OSError:
            pass
    for path in glob.glob("/tmp/autograder-*/*"):
        escaped.append(f"found {path}")
    writes = [(f"{ROOT}/autograder/reference.py", "a"), (f"{ROOT}/source/injected.py", "x"),
              ("/tmp/autograder-hostile-written", "w"), (f"{os.path.dirname(os.getcwd())}/other-student.txt", "w")]
    for path, mode in writes:
        try:
            open(path, mode).close()
            escaped.append(f"opened {path} for writing")
        except OSError:
            pass
    for change in (lambda: os.chmod(f"{ROOT}/README.md", os.stat(f"{ROOT}/README.md").st_mode & 0o7777),
                   lambda: os.utime(f"{ROOT}/README.md"), lambda: os.truncate(f"{ROOT}/README.md", os.path.getsize(f"{ROOT}/README.md")),
                   lambda: os.rename(f"{ROOT}/source/injected.py", f"{ROOT}/source/injected2.py")):
        try:
            change()
            escaped.append("changed a file of the course")
        except OSError:
            pass
    return escaped


def scaled_dot_product_attention(Q, K, V, mask=None):
    if not _done:
        _done.append(1)
        escaped = _escapes()
        if escaped:
            raise RuntimeError("ESCAPED: " + "; ".join(escaped))
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def split_heads(self, x):
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask=None):
        batch, length, _ = x.shape
        Q = self.split_heads(self.W_q(x))
        K = self.split_heads(self.W_k(x))
        V = self.split_heads(self.W_v(x))
        context, weights = scaled_dot_product_attention(Q, K, V, mask)
        context = context.transpose(1, 2).reshape(batch, length, self.embed_dim)
        return self.W_o(context), weights
