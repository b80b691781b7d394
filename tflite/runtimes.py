"""Run ``.tflite`` files in the runtimes Android apps use, from Python.

- **MediaPipe Tasks** ``ImageClassifier`` (``pip install mediapipe``; today's recommended Android
  path; it needs no protobuf), run in this process when TensorFlow is loaded already, else in a
  subprocess (MediaPipe imports TensorFlow when it is installed).
- The **TFLite Task Library** ``ImageClassifier`` (tflite-support 0.4.4's
  ``tflite_support.task.vision``), which needs protobuf 3.20 and so cannot share a venv with
  TensorFlow 2.21: it runs in a subprocess with the Python of its own venv, made by
  ``scripts/install.sh`` at ``$VENV/task-library`` (or the interpreter named by
  ``KERAS_REXNET_TASK_LIBRARY_PYTHON``).

Both are the Python bindings of the same C++ code the Android libraries ship: each classifier is
created from the file alone (labels and normalization from its metadata), so a file they load
and score here is one an app loads and scores the same way. Neither runtime is imported at module
level.
"""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import numpy as np

TASK_LIBRARY_VERSION = "0.4.4"
TASK_LIBRARY_ENV = "KERAS_REXNET_TASK_LIBRARY_PYTHON"
MEDIAPIPE = "MediaPipe Tasks ImageClassifier"
TASK_LIBRARY = f"TFLite Task Library {TASK_LIBRARY_VERSION} ImageClassifier"
MAX_RESULTS = 1000
TIMEOUT = 600


class RuntimeUnavailable(RuntimeError):
    """The runtime is not installed here; the message says how to install it."""


class RuntimeRefusal(RuntimeError):
    """The runtime refused to load the file; the message is the runtime's own error text."""


@dataclasses.dataclass
class Classification:
    """What a runtime's ImageClassifier returned for a list of images.

    ``scores``: ``(n_images, n_classes)`` float32, by class index; ``labels``: the class names
    the runtime read from the file's label file, by index (``""`` where it has none)."""

    runtime: str
    scores: np.ndarray
    labels: list


def _categories_to_arrays(runtime, per_image):
    n = 1 + max((c[0] for cats in per_image for c in cats), default=-1)
    scores = np.full((len(per_image), n), np.nan, np.float32)
    labels = [""] * n
    for i, cats in enumerate(per_image):
        for index, name, score in cats:
            scores[i, index] = score
            labels[index] = name or labels[index]
    return Classification(runtime, scores, labels)


def _paths(images):
    out = [str(pathlib.Path(os.fspath(p)).resolve()) for p in images]
    for p in out:
        if not os.path.isfile(p):
            raise ValueError(f"{p!r}: no such image file")
    return out


# -- MediaPipe Tasks ---------------------------------------------------------------------------

def mediapipe_available():
    import importlib.util

    try:
        return importlib.util.find_spec("mediapipe") is not None
    except (ImportError, ValueError):
        return False


def _run_mediapipe(model_path, images, max_results=MAX_RESULTS):
    """In this process when TensorFlow is loaded already (MediaPipe imports it when installed),
    else in a subprocess with TensorFlow blocked (``_mediapipe.py``), so that checking a file
    loads no TensorFlow into a JAX or PyTorch session."""
    if not mediapipe_available():
        raise RuntimeUnavailable("MediaPipe Tasks is not installed: pip install "
                                 "'keras-rexnet[tflite]' (or pip install mediapipe)")
    model = str(pathlib.Path(os.fspath(model_path)).resolve())
    if "tensorflow" in sys.modules:
        from keras_rexnet.tflite._mediapipe import classify

        error, results = classify(model, images, max_results)
    else:
        result = _run_script("_mediapipe.py", sys.executable,
                             {"model": model, "images": images, "max_results": max_results},
                             "MediaPipe")
        if not result["ok"] and "is not importable" in result["error"]:
            raise RuntimeUnavailable(result["error"])
        error, results = result["error"], result.get("results")
    if error is not None:
        raise RuntimeRefusal(error)
    return results


def classify_mediapipe(model_path, images, max_results=MAX_RESULTS):
    """Scores of image files (paths) from MediaPipe Tasks' ImageClassifier made from the file
    alone. Raises :class:`RuntimeRefusal` when it does not load the file."""
    per_image = _run_mediapipe(model_path, _paths(images), max_results)
    return _categories_to_arrays(MEDIAPIPE, per_image)


def _load_error(run, model_path):
    """None when ``run`` (a runtime's loader) loads the file with no images, else its error."""
    try:
        run(model_path, [])
        return None
    except RuntimeRefusal as e:
        return str(e)


def mediapipe_error(model_path):
    """None when MediaPipe Tasks' ImageClassifier loads the file, else its error text.
    Raises :class:`RuntimeUnavailable` when MediaPipe is not installed."""
    return _load_error(_run_mediapipe, model_path)


def _run_script(script, python, job, what):
    """Run ``tflite/<script>`` with ``python`` on the JSON ``job``; its JSON answer."""
    path = pathlib.Path(__file__).with_name(script)  # it imports nothing from keras_rexnet
    try:  # -I: isolated (no user site, no PYTHON* variables, not this folder on sys.path)
        proc = subprocess.run([python, "-I", str(path)], input=json.dumps(job),
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the {what} process took more than {TIMEOUT} s") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"the {what} process failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])


# -- TFLite Task Library (its own venv) ---------------------------------------------------------

def task_library_python():
    """The interpreter of the Task Library's venv, or None when there is none."""
    named = os.environ.get(TASK_LIBRARY_ENV)
    if named:
        return named if os.path.isfile(named) else None
    candidate = pathlib.Path(sys.prefix) / "task-library" / "bin" / "python"
    return str(candidate) if candidate.is_file() else None


def _run_task_library(model_path, images, max_results=MAX_RESULTS):
    python = task_library_python()
    if python is None:
        raise RuntimeUnavailable(
            f"the TFLite Task Library {TASK_LIBRARY_VERSION} venv is missing: run "
            f"scripts/install.sh (it makes {pathlib.Path(sys.prefix) / 'task-library'}), or "
            f"name its python in {TASK_LIBRARY_ENV}")
    job = {"model": str(pathlib.Path(os.fspath(model_path)).resolve()), "images": images,
           "max_results": max_results}
    result = _run_script("_task_library.py", python, job, "Task Library")
    if not result["ok"]:
        if "is not importable" in result["error"]:
            raise RuntimeUnavailable(f"{python}: {result['error']}")
        raise RuntimeRefusal(result["error"])
    return result["results"]


def classify_task_library(model_path, images, max_results=MAX_RESULTS):
    """Scores of image files (paths) from the TFLite Task Library's ImageClassifier made from
    the file alone, in its own venv. Raises :class:`RuntimeRefusal` when it does not load the
    file, :class:`RuntimeUnavailable` when its venv is missing."""
    per_image = _run_task_library(model_path, _paths(images), max_results)
    return _categories_to_arrays(TASK_LIBRARY, per_image)


def task_library_error(model_path):
    """None when the Task Library's ImageClassifier loads the file, else its error text.
    Raises :class:`RuntimeUnavailable` when its venv is missing."""
    return _load_error(_run_task_library, model_path)


# -- the GPU delegate ---------------------------------------------------------------------------

@dataclasses.dataclass
class GpuAnalysis:
    """TensorFlow Lite's GPU delegate compatibility analysis of a file."""

    compatible: bool
    fallback: list  # [(op index, op name, reason)]: ops the GPU delegate leaves to the CPU
    runtime: str  # the TFLite runtime version the analyzer checked against ("" if not said)

    def summary(self):
        if self.compatible:
            return f"every op runs on the GPU delegate (analyzer, TFLite {self.runtime})"
        ops = sorted({name for _, name, _ in self.fallback})
        return (f"{len(self.fallback)} ops fall back to the CPU ({', '.join(ops)}; analyzer, "
                f"TFLite {self.runtime})")


def parse_gpu_analysis(text):
    """A :class:`GpuAnalysis` from the text ``tf.lite.experimental.Analyzer.analyze(...,
    gpu_compatibility=True)`` prints: each incompatible op's line is followed by
    ``GPU COMPATIBILITY WARNING: reason``; a compatible model ends with "looks compatible"."""
    import re

    fallback = []
    last_op = None
    runtime = ""
    for line in text.splitlines():
        m = re.match(r"\s*Op#(\d+) (\w+)\(", line)
        if m:
            last_op = (int(m.group(1)), m.group(2))
            continue
        if line.startswith("Subgraph#"):
            last_op = None
        v = re.search(r"TFLite runtime version ([0-9][\w.]*\w)", line)
        if v:
            runtime = v.group(1)
        m = re.match(r"GPU COMPATIBILITY WARNING: (.*)", line.strip())
        if m and last_op is not None and not m.group(1).startswith("Subgraph#"):
            fallback.append((last_op[0], last_op[1], m.group(1).strip()))
    compatible = not fallback and "looks compatible with GPU delegate" in text
    if not fallback and not compatible:
        raise ValueError("the analyzer's output names no GPU verdict")
    return GpuAnalysis(compatible, fallback, runtime)


def gpu_analysis(model_path):
    """TensorFlow Lite's analyzer (``tf.lite.experimental.Analyzer.analyze(model_content=...,
    gpu_compatibility=True)``; it prints its report, which is captured and parsed)."""
    import contextlib
    import io

    import tensorflow as tf

    from keras_rexnet.tflite.metadata import _read_bytes

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tf.lite.experimental.Analyzer.analyze(model_content=_read_bytes(model_path),
                                              gpu_compatibility=True)
    return parse_gpu_analysis(out.getvalue())
