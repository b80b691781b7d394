"""The notebooks: stored with the outputs of a real run (notebooks/store_outputs.py), figures
included, and run top to bottom here in a small setting (KERAS_REXNET_NB_FAST=1) in a temporary
directory, where every cell that plots must show its figure inline (an image/png output)."""

import os
import re
import runpy

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# 02 (fine-tuning), 03 (conversion, also proven by tests/backend/test_convert.py) and 04 (TFLite
# export) take most of a minute each: slow stage. 01 runs in both.
SLOW_NOTEBOOKS = {"02_transfer_learning", "03_convert_pytorch_weights", "04_tflite_android"}

# What each notebook must show: 01 the photographs, 02 the training curve, 03 the per-layer
# conversion errors, 04 int8 versus float.
FIGURES = {"01": "imshow", "02": "plot", "03": "semilogy", "04": "bar"}

# A call on pyplot, matplotlib, a figure or an axes (ax[0].bar, fig.tight_layout, plt.subplots),
# but not configuration (plt.rcParams[...] = ..., matplotlib.use, plt.close).
PLOT_CALL = re.compile(r"\b(?:plt|matplotlib|fig|figure|axes|ax)(?:\[[^\]]*\])?\.(\w+)\s*\(")
NOT_DRAWING = {"use", "rc", "rc_context", "rcdefaults", "close", "ioff", "ion", "get_backend"}


def _log_line():
    """The TensorFlow log lines that notebooks/store_outputs.py keeps out of stored outputs."""
    return runpy.run_path(str(ROOT / "notebooks" / "store_outputs.py"))["LOG_LINE"]


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _has_figure(cell):
    return any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def plotting_cells(nb):
    """Indices of the cells that plot: a drawing call, the tag "plot", or a stored figure."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (
        any(name not in NOT_DRAWING for name in PLOT_CALL.findall(c.source))
        or "plot" in c.metadata.get("tags", []) or _has_figure(c))]


def test_four_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


def test_plot_call_detection():
    assert PLOT_CALL.findall('ax[1].axvline(0.5); fig.tight_layout(); plt.show()') == \
        ["axvline", "tight_layout", "show"]
    assert PLOT_CALL.findall('%matplotlib inline\nimport matplotlib.pyplot as plt\n'
                             'plt.rcParams["figure.dpi"] = 80') == []
    assert PLOT_CALL.findall('matplotlib.use("Agg")') == ["use"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_plots_inline(path):
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        assert not re.search(r"matplotlib\.use\s*\(|MPLBACKEND|\bAgg\b", cell.source), \
            f"{path.name}: figures display inline; no forced backend:\n{cell.source}"
    wanted = FIGURES[path.name[:2]]
    assert any(wanted in PLOT_CALL.findall(nb.cells[i].source) for i in plotting_cells(nb)), \
        f"{path.name} has no plotting cell calling {wanted}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs(path):
    """What GitHub shows: the outputs of one clean run, figures included, without log noise."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = _code(nb)
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{path.name} is not stored as one run top to bottom (notebooks/store_outputs.py)"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    for i in plotting_cells(nb):
        assert _has_figure(nb.cells[i]), f"{path.name}: cell {i} plots but stores no figure"
    log_line = _log_line()
    text = "".join(o.text for o in outputs if o.output_type == "stream")
    assert not [line for line in text.splitlines() if log_line.match(line)], \
        f"{path.name} stores TensorFlow log lines"
    assert "\r" not in text and "\b" not in text, f"{path.name} stores progress bars"
    assert "/tmp/" not in text, f"{path.name} stores a temporary path"
    assert not any(c.metadata.get("execution") for c in code), "no timestamps"
    assert path.stat().st_size < 200_000, f"{path.name}: keep stored outputs small"


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow)
                                  if p.stem in SLOW_NOTEBOOKS else p for p in NOTEBOOKS],
                         ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)  # in memory: the tracked file is never written
    assert nb.cells[0].cell_type == "markdown" and "What it needs" in nb.cells[0].source
    plotting = plotting_cells(nb)
    assert plotting
    for cell in _code(nb):  # the stored outputs prove nothing here
        cell.outputs, cell.execution_count = [], None
    monkeypatch.setenv("KERAS_REXNET_NB_FAST", "1")
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_REXNET_NB_BACKEND", "tensorflow"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.delenv("REXNET_CHECKPOINT", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in Jupyter: the inline backend
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{errors[0].ename}: {errors[0].evalue}"
    blank = [i for i in plotting if not _has_figure(nb.cells[i])]
    assert not blank, f"{path.name}: cells {blank} plot but show no figure:\n" + \
        "\n---\n".join(nb.cells[i].source for i in blank)
