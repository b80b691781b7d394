"""benchmarks/speed_report.py: the README's performance tables from a speed.py result."""

import importlib.util
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _report_module():
    spec = importlib.util.spec_from_file_location("speed_report",
                                                  ROOT / "benchmarks" / "speed_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result():
    machine = {"cpu": "Test CPU", "cores": 2, "python": "3.11", "versions": {"keras": "3"}}
    rows = [
        {"model": "rexnet_100", "batch": 1, "backend": "pytorch", "path": "timm (eager)",
         "ms": 20.0, "ms_before": 19.0, "ms_after": 21.0, "baseline": True,
         "ratio_to_torch": 1.0},
        {"model": "rexnet_100", "batch": 1, "backend": "pytorch",
         "path": "timm (eager, channels_last)", "ms": 16.0, "ratio_to_torch": 0.8},
        {"model": "rexnet_100", "batch": 1, "backend": "tensorflow", "path": "predict_on_batch",
         "ms": 12.0, "ratio_to_torch": 0.6},
        {"model": "rexnet_100", "batch": 1, "backend": "tensorflow",
         "path": "predict_on_batch, folded", "ms": 10.0, "ratio_to_torch": 0.5},
        {"model": "rexnet_100", "batch": 1, "backend": "tensorflow",
         "path": "inference_function, unfolded", "ms": 9.0, "ratio_to_torch": 0.45},
        {"model": "rexnet_100", "batch": 1, "backend": "tensorflow",
         "path": "inference_function (recommended)", "ms": 6.0, "ratio_to_torch": 0.3},
        {"model": "rexnet_100", "batch": 32, "backend": "pytorch", "path": "train loop 128px",
         "ms": 800.0, "images_per_s": 40.0, "baseline": True, "ratio_to_torch": 1.0},
        {"model": "rexnet_100", "batch": 32, "backend": "tensorflow",
         "path": "train_on_batch 128px", "ms": 400.0, "images_per_s": 80.0,
         "ratio_to_torch": 0.5},
        {"model": "rexnet_lite_100", "batch": 1, "backend": "litert",
         "path": "tflite float32 2 thread(s)", "ms": 4.0, "runs": 100, "rounds": 5},
        {"model": "rexnet_lite_100", "batch": 1, "backend": "litert",
         "path": "tflite int8 2 thread(s)", "ms": 1.8, "runs": 100, "rounds": 5},
    ]
    return {"machine": machine, "rows": rows, "runs": 20}


def test_report_tables():
    text = _report_module().report(_result())
    assert "Test CPU, 2 cores" in text and "Median of 20 runs" in text
    main = next(line for line in text.splitlines() if line.startswith("| rexnet_100 | 1 |"))
    cells = [c.strip() for c in main.strip("|").split("|")]
    # timm eager, channels_last, TF predict_on_batch, TF recommended, JAX/torch absent
    assert cells[2:6] == ["20.0", "16.0 (0.80x)", "12.0 (0.60x)", "6.0 (0.30x)"]
    assert cells[6:] == ["-"] * 4
    assert "19.0 -> 21.0 ms" in text  # the baseline's drift
    assert "12.0 -> 10.0 (1.20x)" in text and "9.0 -> 6.0 (1.50x)" in text  # folding
    assert "| rexnet_100 | 40.0 | 80.0 (0.50x time) | - | - |" in text  # training
    assert "| rexnet_lite_100 | 2 | 4.00 | 1.80 | 0.45 |" in text  # TFLite int8 / float32
    assert "median of 100 runs, in 5 rounds" in text


def test_report_training_run_apart():
    """Training rows from ``speed.py --only training``: each ratio divides by the PyTorch loop
    timed in the same process (``timm_ms``), and the run is described."""
    result = _result()
    for r in result["rows"]:
        if r["path"] == "train_on_batch 128px":
            r.update(ms=600.0, images_per_s=32e3 / 600, timm_ms=750.0)
    result["training_run"] = {"machine": {"cpu": "Other CPU", "cores": 4}, "train_runs": 7,
                              "date": "2026-12-01", "loadavg_1min": [1.5, 2.25]}
    text = _report_module().report(result)
    assert "| rexnet_100 | 40.0 | 53.3 (0.80x time) | - | - |" in text
    assert "(`benchmarks/speed.py --only training`, 2026-12-01): Other CPU, 4 cores" in text
    assert "median of 7 steps" in text and "load average of the machine: 1.5 at the start" in text


def test_report_command(tmp_path):
    path = tmp_path / "speed.json"
    path.write_text(json.dumps(_result()))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed_report.py"),
                          str(path)], capture_output=True, text=True, check=True).stdout
    assert out == _report_module().report(_result())
