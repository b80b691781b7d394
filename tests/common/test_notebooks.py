"""The notebooks run top to bottom (small setting: KERAS_REXNET_NB_FAST=1)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_four_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


# 02 (fine-tuning) and 04 (TFLite export) take half a minute each: slow stage.
SLOW_NOTEBOOKS = {"02_transfer_learning", "04_tflite_android"}


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow)
                                  if p.stem in SLOW_NOTEBOOKS else p for p in NOTEBOOKS],
                         ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "What it needs" in nb.cells[0].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "notebooks are stored without outputs"
    monkeypatch.setenv("KERAS_REXNET_NB_FAST", "1")
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_REXNET_NB_BACKEND", "tensorflow"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("REXNET_CHECKPOINT", raising=False)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
