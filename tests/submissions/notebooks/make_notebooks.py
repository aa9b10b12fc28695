"""Write the corpus of notebooks that work in Jupyter and must get the plain solution's grade.

Each notebook is the current release with the source's solutions filled in (``plain.ipynb``),
then changed the way students change notebooks: helpers in added cells, constants made by calls,
``from __future__ import annotations``, a dataclass config, type hints, a global read at call
time, a class shared between cells, top-level prints, plots and a leftover training call, a
duplicated graded cell, a solution split across two cells, reordered cells, timing and capture
magics, a library warning about a caller outside the cell, every cell's nbgrader metadata gone.

    .venv/bin/python tests/submissions/notebooks/make_notebooks.py   # rewrites the .ipynb files here
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import nbformat
from nbformat.v4 import new_code_cell

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
Notebook = nbformat.NotebookNode


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def plain() -> Notebook:
    """The release with the solutions of the source notebook in its answer cells."""
    release = nbformat.read(ROOT / "release" / "transformer" / "transformer.ipynb", as_version=4)
    source = {grade_id(c): c.source for c in nbformat.read(ROOT / "source" / "transformer" / "transformer.ipynb",
                                                          as_version=4).cells}
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = "\n".join(line for line in source[grade_id(cell)].splitlines()
                                    if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
    return release


def index(notebook: Notebook, gid: str) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if grade_id(cell) == gid)


def cell(notebook: Notebook, gid: str) -> nbformat.NotebookNode:
    return notebook.cells[index(notebook, gid)]


def replace(notebook: Notebook, gid: str, old: str, new: str) -> None:
    target = cell(notebook, gid)
    assert old in target.source, (gid, old)
    target.source = target.source.replace(old, new)


def add_after(notebook: Notebook, gid: str, source: str) -> None:
    notebook.cells.insert(index(notebook, gid) + 1, new_code_cell(source))


def add_before(notebook: Notebook, gid: str, source: str) -> None:
    notebook.cells.insert(index(notebook, gid), new_code_cell(source))


def helper_in_added_cell(nb: Notebook) -> None:
    add_before(nb, "mha", "def split_heads(t, num_heads):\n"
                          "    batch, length, dim = t.shape\n"
                          "    return t.view(batch, length, num_heads, dim // num_heads).transpose(1, 2)\n")
    replace(nb, "mha", "        def split_heads(t):\n"
                       "            return t.view(batch_size, seq_len, self.num_heads, self.head_dim).transpose(1, 2)\n\n", "")
    replace(nb, "mha", "Q, K, V = split_heads(self.W_q(x)), split_heads(self.W_k(x)), split_heads(self.W_v(x))",
            "Q, K, V = (split_heads(layer(x), self.num_heads) for layer in (self.W_q, self.W_k, self.W_v))")


def helper_defined_later(nb: Notebook) -> None:
    replace(nb, "sdpa", "scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)",
            "scores = attention_scores(Q, K) / math.sqrt(d_k)")
    add_after(nb, "sdpa", "def attention_scores(Q, K):\n    return Q @ K.transpose(-2, -1)\n")


def constants_made_by_calls(nb: Notebook) -> None:
    cell(nb, "sdpa").source = ("MASK_VALUE = float(-1e9)\nKEY_AXIS = int(-1)\nSQRT = math.sqrt\n\n"
                               + cell(nb, "sdpa").source)
    replace(nb, "sdpa", "masked_fill(mask == 0, -1e9)", "masked_fill(mask == 0, MASK_VALUE)")
    replace(nb, "sdpa", "F.softmax(scores, dim=-1)", "F.softmax(scores, dim=KEY_AXIS)")
    replace(nb, "sdpa", "/ math.sqrt(d_k)", "/ SQRT(d_k)")


def future_annotations_and_type_hints(nb: Notebook) -> None:
    target = cell(nb, "sdpa")
    target.source = ("from __future__ import annotations\n\nimport typing\n\nTensor = torch.Tensor\n\n"
                     + target.source.replace("def scaled_dot_product_attention(Q, K, V, mask=None):",
                                             "def scaled_dot_product_attention(Q: Tensor, K: Tensor, V: Tensor,\n"
                                             "                                 mask: Tensor | None = None\n"
                                             "                                 ) -> tuple[Tensor, Tensor]:")
                     + "\n\nHINTS = typing.get_type_hints(scaled_dot_product_attention)\n")


def dataclass_config(nb: Notebook) -> None:
    target = cell(nb, "mha")
    target.source = ("from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass AttentionConfig:\n"
                     "    bias: bool = True\n\n\nCONFIG = AttentionConfig()\n\n\n" + target.source
                     ).replace("nn.Linear(embed_dim, embed_dim)", "nn.Linear(embed_dim, embed_dim, bias=CONFIG.bias)")


def global_read_at_call_time(nb: Notebook) -> None:
    replace(nb, "sdpa", "F.softmax(scores, dim=-1)", "F.softmax(scores, dim=SOFTMAX_AXIS)")
    cell(nb, "sdpa").source += "\n\nSOFTMAX_AXIS = -1\n"


def class_shared_between_cells(nb: Notebook) -> None:
    add_before(nb, "attention_hook", "class WeightRecorder:\n"
                                     "    def __init__(self, storage):\n        self.storage = storage\n\n"
                                     "    def __call__(self, module, inputs, output):\n"
                                     "        self.storage.append(output[1].detach().cpu())\n")
    replace(nb, "attention_hook", "    def hook_fn(module, inputs, output):\n        storage.append(output[1].detach().cpu())\n"
                                  "    return hook_fn", "    return WeightRecorder(storage)")


def prints_plots_and_a_training_call(nb: Notebook) -> None:
    cell(nb, "fixed_encoder").source += (
        "\n\nprint('FixedTransformerEncoderLayer defined')\n"
        "plt.figure()\nplt.plot([0, 1], [1, 0])\nplt.show()\n"
        "fixed_model, fixed_history = train_classifier(FixedTransformerEncoderLayer, reviews, seed=0)\n")
    cell(nb, "sdpa").source += "\n\nprint(scaled_dot_product_attention(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2),"
    cell(nb, "sdpa").source += " torch.ones(1, 1, 2, 2))[1])\n"


def duplicated_graded_cell(nb: Notebook) -> None:
    duplicate = copy.deepcopy(cell(nb, "sdpa"))
    duplicate["id"] = "pasted-sdpa"
    nb.cells.insert(index(nb, "sdpa") + 1, duplicate)


def solution_split_across_cells(nb: Notebook) -> None:
    target = cell(nb, "mha")
    head, forward = target.source.split("    def forward(self, x, mask=None):", 1)
    target.source = head.rstrip() + "\n"
    add_after(nb, "mha", "def _mha_forward(self, x, mask=None):" + forward.replace("\n    ", "\n")
              + "\n\nMultiHeadAttention.forward = _mha_forward\n")


def cells_reordered(nb: Notebook) -> None:
    metrics, tokenize = index(nb, "compute_metrics"), index(nb, "tokenize_fn")
    nb.cells[metrics], nb.cells[tokenize] = nb.cells[tokenize], nb.cells[metrics]
    sdpa = nb.cells.pop(index(nb, "sdpa"))
    nb.cells.insert(index(nb, "parta_intro"), sdpa)  # above the Part A introduction


def timing_and_capture_magics(nb: Notebook) -> None:
    cell(nb, "sdpa").source = "%%time\n" + cell(nb, "sdpa").source
    cell(nb, "mha").source += "\n\n%time timing_check = MultiHeadAttention(8, 2)\n"
    add_after(nb, "mha", "%%capture pip_output\n!pip install -q numpy\nINSTALLED = True\n")
    add_after(nb, "attention_hook", "%%time\n"
                                    "def count_stored(storage):\n    return len(storage)\n")


def library_warning_past_the_cell(nb: Notebook) -> None:
    """A library call that warns about its caller's caller (stacklevel=3), called from a cell: the warning
    is shown as Jupyter shows it, and the file it names is not the student's doing."""
    add_after(nb, "sdpa", "import warnings\n\n\ndef old_api():\n"
                          "    warnings.warn('old_api is deprecated', DeprecationWarning, stacklevel=3)\n\n\n"
                          "warnings.simplefilter('always')\nold_api()\n")


def metadata_stripped(nb: Notebook) -> None:
    """Saved by an editor that drops cell metadata (Colab can): no cell says which it is."""
    for each in nb.cells:
        each.metadata.pop("nbgrader", None)


VARIANTS: dict[str, Callable[[Notebook], None]] = {
    "plain": lambda nb: None,
    "helper_in_added_cell": helper_in_added_cell,
    "helper_defined_later": helper_defined_later,
    "constants_made_by_calls": constants_made_by_calls,
    "future_annotations_and_type_hints": future_annotations_and_type_hints,
    "dataclass_config": dataclass_config,
    "global_read_at_call_time": global_read_at_call_time,
    "class_shared_between_cells": class_shared_between_cells,
    "prints_plots_and_a_training_call": prints_plots_and_a_training_call,
    "duplicated_graded_cell": duplicated_graded_cell,
    "solution_split_across_cells": solution_split_across_cells,
    "cells_reordered": cells_reordered,
    "timing_and_capture_magics": timing_and_capture_magics,
    "library_warning_past_the_cell": library_warning_past_the_cell,
    "metadata_stripped": metadata_stripped,
}


def main() -> None:
    for name, change in VARIANTS.items():
        notebook = plain()
        change(notebook)
        for position, each in enumerate(notebook.cells):  # added cells need ids, as Jupyter gives them
            each.setdefault("id", f"{name[:20]}-{position}")
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
