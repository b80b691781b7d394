"""Run the notebooks and store their outputs in place, so that GitHub shows the figures.

    KERAS_BACKEND=tensorflow .venv/bin/python notebooks/store_outputs.py [NAME ...]

Each notebook runs in the full setting (not ``KERAS_REXNET_NB_FAST``) in a temporary directory,
as a reader would run it from a clone, with the usual ``KERAS_HOME`` (``weights="imagenet"`` in
01 downloads there; offline, 01 says so and falls back to a seeded checkpoint, as 02-04 always
do). Figures display inline (no ``MPLBACKEND``). TensorFlow runs with ``TF_CPP_MIN_LOG_LEVEL=2``;
the log lines that still reach a stream output (absl, LiteRT, the TFLite converter) are dropped,
as are execution timestamps, so the stored outputs stay small. The tests run the notebooks
themselves (``tests/common/test_notebooks.py``) and check what is stored here.
"""

import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Log lines of TensorFlow, absl, LiteRT and the TFLite converter, not output of the notebook.
LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]"  # I0000 00:00:17.. 13 port.cc:153]
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+\]"  # 2026-01-01 12:00:00.0: W tf/..]
    r"|INFO:"  # INFO:tensorflow:Assets written to /tmp/.., INFO: Created TensorFlow Lite XNNPACK..
    r"|WARNING:absl:"
    r"|fully_quantize: \d+, inference_type: )")


def clean_outputs(nb):
    """Drop log lines from stream outputs (and streams left empty), merge consecutive streams of
    one kind (fit prints each epoch separately) and drop timing metadata."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream":
                lines = out.text.splitlines(keepends=True)
                out.text = "".join(line for line in lines if not LOG_LINE.match(line))
                if not out.text.strip():
                    continue
                if kept and kept[-1].output_type == "stream" and kept[-1].name == out.name:
                    kept[-1].text += out.text
                    continue
            kept.append(out)
        cell.outputs = kept
    return nb


def run(path, workdir):
    """Execute the notebook at ``path`` (outputs cleared first) in ``workdir``; return it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    NotebookClient(nb, timeout=1800, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def main(names):
    import nbformat

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ.pop("MPLBACKEND", None)  # the notebooks plot inline
    for var in ("KERAS_REXNET_NB_FAST", "REXNET_CHECKPOINT"):
        os.environ.pop(var, None)
    paths = sorted(HERE.glob("*.ipynb"))
    if names:
        paths = [p for p in paths if any(p.name.startswith(n) for n in names)]
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            nb = clean_outputs(run(path, tmp))
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        if errors:
            sys.exit(f"{path.name}: {errors[0].ename}: {errors[0].evalue}")
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"{path.name}: {time.time() - t0:.0f} s, {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main(sys.argv[1:])
