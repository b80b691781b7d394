"""Runs one conversion in a ``KERAS_BACKEND=tensorflow`` process (see ``export.py``).

Usage: ``python -m keras_rexnet.tflite._worker JOB.json``. The job names a ``.keras`` model file,
the output path and the validated export arguments; the outcome goes to the job's ``result``
file as ``{"ok": true}`` or ``{"ok": false, "message": ..., "value_error": ...}``.
"""

import json
import os
import sys
import traceback


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    result = {"ok": False}
    try:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras
        import numpy as np

        import keras_rexnet  # noqa: F401  (registers the custom layers for loading)

        if keras.config.backend() != "tensorflow":
            raise RuntimeError(f"the worker runs on the TensorFlow backend, not "
                               f"{keras.config.backend()}")
        from keras_rexnet.model import load_model
        from keras_rexnet.tflite import export

        model = load_model(job["model"])  # uncompiled (a file saved under JAX says jit_compile)
        if job["kind"] == "tflite":
            calibration = np.load(job["calibration"]) if job.get("calibration") else None
            export._export_tflite_tf(model, job["output"], quantization=job["quantization"],
                                     calibration=calibration, labels=job["labels"],
                                     metadata=job["metadata"],
                                     input_size=tuple(job["input_size"]))
        elif job["kind"] == "onnx":
            export._export_onnx_tf(model, job["output"], input_size=tuple(job["input_size"]),
                                   opset=job["opset"])
        else:
            raise ValueError(f"unknown job kind {job['kind']!r}")
        result = {"ok": True}
    except Exception as e:  # reported to the parent, which raises it there
        traceback.print_exc()
        result = {"ok": False, "message": f"{type(e).__name__}: {e}" if not isinstance(
            e, ValueError) else str(e), "value_error": isinstance(e, ValueError)}
    with open(job["result"], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
