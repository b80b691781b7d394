"""Every kind of exported file in the runtimes Android apps use: MediaPipe Tasks' ImageClassifier
(in this process) and the TFLite Task Library 0.4.4's (in its own venv, made by
scripts/install.sh), each created from the file alone with max_results=1000, on photos saved to
disk at the file's input size. Both must read the class names from the packed label file and give
the LiteRT interpreter's scores on the same pixels (assert_same_in_runtimes says where the Task
Library's older kernels differ). Fast stage: ReXNet-lite 1.0 dynamic-range and int8 at 96x96.
Slow stage: its float32 and float16 files at 96x96, the 224x224 files of every kind, ReXNetV1
float16 and int8 at 128x160, the converter's default dynamic-range
file (refused by the Task Library: the exporter's setting is what makes it load), and the int8
accuracy of a digits classifier at 96x96 in LiteRT and MediaPipe."""

import json
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

from keras_rexnet import tflite
from keras_rexnet.tflite import runtimes
from keras_rexnet.tflite.metadata import op_versions, read_metadata, read_model

CHECK_SEED, CALIBRATION_SEED = 202, 101  # as in conftest.py: checks never see calibration

SIZE = (96, 96)
OWN_LABELS = [f"own class {i}" for i in range(1000)]


def save_photos(folder, size, n=4, seed=CHECK_SEED):
    """``n`` photo crops at ``size`` saved as PNG (lossless); returns (paths, pixels read back)."""
    from PIL import Image

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(tflite.sample_photos(n, size=size, seed=seed)):
        paths.append(folder / f"photo_{i}.png")
        Image.fromarray(np.asarray(image, np.uint8)).save(paths[-1])
    pixels = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    assert pixels.shape == (n, size[0], size[1], 3)
    return paths, pixels


def litert_builtin_kernels(path, pixels):
    """LiteRT's scores with its builtin kernels only (no XNNPACK), input through the metadata's
    normalization as run_tflite feeds it."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=(
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    mean, std = read_model(path).normalization
    scores = []
    for x in pixels.astype(np.float32):
        interp.set_tensor(inp["index"], ((x - np.float32(mean)) / np.float32(std))[None])
        interp.invoke()
        scores.append(interp.get_tensor(out["index"]).reshape(-1))
    return np.stack(scores)


def assert_same_in_runtimes(path, image_paths, pixels, labels_expected):
    """MediaPipe and the Task Library, made from the file alone, give LiteRT's scores and read
    the packed labels. Returns the LiteRT scores.

    MediaPipe 1.2 and LiteRT 2.3 run the same kernels: float scores within 1e-5, int8 the same
    uint8 values. The Task Library 0.4.4 is an older TFLite: its float kernels agree within 1e-5,
    two other kernel sets do not, and no export setting changes that:
    - dynamic-range layers run in TFLite's builtin hybrid kernels (LiteRT and MediaPipe use
      XNNPACK's: up to 0.07 apart in a probability on lite 1.0, both about as far from the float
      file). Against LiteRT's builtin kernels it is 9e-8 at 96x96 but 8.5e-3 at 224x224 (its
      hybrid kernels are older too), so there: the same top-1 class, and within 0.02;
    - its int8 kernels round a few outputs differently from every LiteRT kernel set (0 to 6 of 4000
      uint8 values, by up to 5 steps, on lite 1.0 at 96x96), so there: the same top-1 class, at
      most 1% of the values off, by at most 8 steps of 1/256."""
    info = read_model(path)
    packed = read_metadata(path)["labels"]
    assert packed == labels_expected
    ref = tflite.run_tflite(path, pixels)  # dequantized, float input through the metadata's norm
    out = info.outputs[0]
    hybrid = info.inputs[0].dtype == "float32" and "int8" in info.tensor_types
    for run in (runtimes.classify_mediapipe, runtimes.classify_task_library):
        got = run(path, image_paths)
        old = run is runtimes.classify_task_library
        assert got.labels == packed, (got.runtime, got.labels[:3])
        assert got.scores.shape == ref.shape, (got.runtime, got.scores.shape)
        if out.dtype == "uint8":  # compared as the uint8 values after dequantization
            (scale,), (zp,) = out.scale, out.zero_point
            q_ref = np.round(ref / scale).astype(np.int64) + zp
            q_got = np.round(got.scores / scale).astype(np.int64) + zp
            diff = np.abs(q_got - q_ref)
            print(f"{got.runtime}: {int((diff > 0).sum())} of {diff.size} uint8 scores differ "
                  f"from LiteRT's, by at most {int(diff.max())}")
            if old:
                assert np.array_equal(np.argmax(q_got, -1), np.argmax(q_ref, -1)), got.runtime
                assert (diff > 0).mean() <= 0.01 and diff.max() <= 8, got.runtime
            else:
                assert diff.max() == 0, got.runtime
        else:
            want = litert_builtin_kernels(path, pixels) if hybrid and old else ref
            err = float(np.max(np.abs(got.scores - want)))
            print(f"{got.runtime}: max |score - LiteRT's| {err:.2e}")
            if hybrid and old:
                assert np.array_equal(np.argmax(got.scores, -1), np.argmax(want, -1))
                assert err <= 0.02, (got.runtime, err)
            else:
                assert err <= 1e-5, (got.runtime, err)
    return ref


def assert_android_report(path):
    report = tflite.android.android_report(path)
    assert report.mediapipe is None and report.task_library is None, report.summary()
    assert report.unchecked == {}, report.unchecked
    assert report.violations == [], report.violations
    assert report.ops == op_versions(path) and report.ops
    assert report.gpu is not None and report.gpu.runtime, report.gpu_error
    text = report.summary()
    assert "MediaPipe Tasks ImageClassifier: loads it" in text
    assert "TFLite Task Library 0.4.4 ImageClassifier: loads it" in text
    return report


@pytest.fixture(scope="module")
def small(work_dir, lite_model, calibration):
    """``small(kind)``: ReXNet-lite 1.0 exported at 96x96 once per module, and the photos."""
    from keras_rexnet.tflite.calibration import fit_image

    folder = work_dir / "runtimes_96"
    folder.mkdir(exist_ok=True)
    paths, pixels = save_photos(folder / "photos", SIZE)
    files = {}

    def make(q):
        if q not in files:
            data = np.stack([fit_image(c, SIZE) for c in calibration[:32]])
            with warnings.catch_warnings():
                warnings.simplefilter("error", tflite.AndroidCompatibilityWarning)
                files[q] = tflite.export_tflite(
                    lite_model, folder / f"lite_{q or 'float32'}.tflite", quantization=q,
                    input_size=SIZE, representative_data=data if q == "int8" else None,
                    labels=OWN_LABELS if q == "int8" else "imagenet")
        return files[q], paths, pixels

    return make


# Fast: the two kinds whose kernels differ between runtimes (the float files at 224x224 and
# 96x96 run in the slow stage).
@pytest.mark.parametrize("quantization", [
    "dynamic", "int8", pytest.param(None, marks=pytest.mark.slow),
    pytest.param("float16", marks=pytest.mark.slow)])
def test_lite_96_in_both_runtimes(small, quantization):
    path, paths, pixels = small(quantization)
    labels = OWN_LABELS if quantization == "int8" else None
    if labels is None:
        labels = read_metadata(path)["labels"]
        assert labels[1] == "goldfish" and len(labels) == 1000
    assert read_model(path).inputs[0].shape == (1, *SIZE, 3)
    assert_same_in_runtimes(path, paths, pixels, labels)
    report = assert_android_report(path)
    if quantization == "dynamic":  # the op version the Task Library 0.4.4 knows
        fc = [v for name, v in report.ops if name == "FULLY_CONNECTED"]
        assert fc and max(fc) < 12, report.ops


def test_refusals_are_the_runtimes_own_words(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    assert runtimes.mediapipe_error(bad)
    assert runtimes.task_library_error(bad)
    with pytest.raises(runtimes.RuntimeRefusal):
        runtimes.classify_task_library(bad, [])


# The analyzer's report format (tensorflow/lite/tools/model_analyzer.cc): a warning line after
# each op the GPU delegate does not take, and a summary line.
INCOMPATIBLE = """Subgraph#0 main(T#0) -> [T#3]
  Op#0 CONV_2D(T#0, T#1, T#2) -> [T#4]
  Op#1 CUSTOM(T#4) -> [T#5]
GPU COMPATIBILITY WARNING: Not supported custom op FancyOp
  Op#2 TOPK_V2(T#5, T#6) -> [T#3, T#7]
GPU COMPATIBILITY WARNING: Not supported op TOPK_V2

GPU COMPATIBILITY WARNING: Subgraph#0 has GPU delegate compatibility issues at nodes 1, 2 with \
TFLite runtime version 2.21.0
"""


def test_gpu_analysis_parser():
    a = runtimes.parse_gpu_analysis(INCOMPATIBLE)
    assert not a.compatible and a.runtime == "2.21.0"
    assert a.fallback == [(1, "CUSTOM", "Not supported custom op FancyOp"),
                          (2, "TOPK_V2", "Not supported op TOPK_V2")]
    assert "2 ops fall back to the CPU (CUSTOM, TOPK_V2" in a.summary()
    ok = runtimes.parse_gpu_analysis("  Op#0 ADD(T#0, T#1) -> [T#2]\nYour model looks compatible "
                                     "with GPU delegate on TFLite runtime version 2.21.0.\n")
    assert ok.compatible and ok.fallback == [] and ok.runtime == "2.21.0"
    with pytest.raises(ValueError, match="no GPU verdict"):
        runtimes.parse_gpu_analysis("=== TFLite ModelAnalyzer ===\n")


def test_runtimes_stay_out_of_the_import_path():
    code = ("import sys, keras_rexnet, keras_rexnet.tflite, keras_rexnet.tflite.runtimes, "
            "keras_rexnet.tflite.android; "
            "print([m for m in ('mediapipe', 'tflite_support', 'tensorflow') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, KERAS_BACKEND="jax"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


# -- slow: every kind at 224x224, ReXNetV1, the converter's default, int8 accuracy ---------------

@pytest.mark.slow
@pytest.mark.parametrize("quantization", [None, "float16", "dynamic", "int8"])
def test_lite_224_in_both_runtimes(exported, work_dir, quantization):
    path, caught = exported(quantization)
    assert not any("AndroidCompatibilityWarning" in w for w in caught), caught
    paths, pixels = save_photos(work_dir / "runtimes_224", (224, 224))
    labels = read_metadata(path)["labels"]
    assert labels[1] == "goldfish"
    assert_same_in_runtimes(path, paths, pixels, labels)
    assert_android_report(path)


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float16", "int8"])
def test_rexnetv1_in_both_runtimes(work_dir, calibration, quantization):
    import keras_rexnet
    from helpers import official_state, save_pth
    from keras_rexnet.tflite.calibration import fit_image

    size = (128, 160)  # neither 224 nor square
    ckpt = work_dir / "rexnetv1_1.0_s1.pth"
    if not ckpt.is_file():
        save_pth(official_state("rexnetv1_1.0", 1), ckpt)
    model = keras_rexnet.ReXNetV1(1.0, weights=str(ckpt))
    data = np.stack([fit_image(c, size) for c in calibration[:64]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tflite.QuantizationWarning)
        warnings.simplefilter("error", tflite.AndroidCompatibilityWarning)
        path = tflite.export_tflite(model, work_dir / f"v1_{quantization}_128x160.tflite",
                                    quantization=quantization, input_size=size,
                                    representative_data=data if quantization == "int8" else None)
    paths, pixels = save_photos(work_dir / "runtimes_128x160", size)
    labels = read_metadata(path)["labels"]
    assert labels[1] == "goldfish"
    assert_same_in_runtimes(path, paths, pixels, labels)
    assert_android_report(path)


@pytest.mark.slow
def test_converter_default_dynamic_is_refused_by_the_task_library(tmp_path, lite_model):
    """Without the exporter's setting the dense layer is FULLY_CONNECTED v12, which the Task
    Library 0.4.4 refuses (MediaPipe loads it): the setting is what the fast test relies on."""
    import keras
    import tensorflow as tf

    from keras_rexnet.tflite.export import fused_pixel_graph

    model = fused_pixel_graph(lite_model, input_size=SIZE)
    raw = tmp_path / "default_dynamic.tflite"
    model.export(str(raw), format="litert", verbose=False,
                 input_signature=[keras.InputSpec(shape=(1, *SIZE, 3), dtype="float32")],
                 optimizations=[tf.lite.Optimize.DEFAULT])
    assert ("FULLY_CONNECTED", 12) in op_versions(raw)
    err = runtimes.task_library_error(raw)
    assert err and "FULLY_CONNECTED" in err and "version '12'" in err, err
    assert runtimes.mediapipe_error(raw) is None or "NormalizationOptions" in \
        runtimes.mediapipe_error(raw)


DIGITS_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from helpers import official_state, save_pth
from keras_rexnet import datasets, transfer
import keras
keras.utils.set_random_seed(0)
size = int(sys.argv[3])
path = save_pth(official_state("rexnet_lite_1.0"), sys.argv[1] + "/lite.pth")
(xt, yt), (xv, yv) = datasets.digits(size)
model, backbone = transfer.build_classifier("rexnet_lite_100", 10, input_shape=(size, size, 3),
                                            weights=str(path))
transfer.fine_tune(model, backbone, (xt, yt), head_epochs=1, full_epochs=2,
                   full_learning_rate=3e-4, verbose=0)
model.save(sys.argv[1] + "/digits.keras")
loss, acc = model.evaluate(xv, yv, verbose=0)
print(json.dumps({"float_accuracy": acc}))
"""


@pytest.mark.slow
def test_int8_accuracy_at_96(tmp_path):
    """A lite classifier fine-tuned on the digits at 96x96, exported int8 with 300 calibration
    images: top-1 on the held-out scans within 1 point of the float Keras model, in LiteRT and in
    MediaPipe (same file, images from disk)."""
    import keras

    from keras_rexnet import datasets

    size = 96
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", DIGITS_SCRIPT, str(tmp_path), tests_dir,
                           str(size)], capture_output=True, text=True,
                          env=dict(os.environ, KERAS_BACKEND="torch"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    float_acc = json.loads(proc.stdout.strip().splitlines()[-1])["float_accuracy"]
    model = keras.saving.load_model(tmp_path / "digits.keras")
    (xt, _), (xv, yv) = datasets.digits(size)
    rng = np.random.default_rng(CALIBRATION_SEED)
    calib = xt[rng.choice(len(xt), 300, replace=False)]
    digit_labels = [f"digit {i}" for i in range(10)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", tflite.AndroidCompatibilityWarning)
        path = tflite.export_tflite(model, tmp_path / "digits_int8.tflite", quantization="int8",
                                    representative_data=calib, labels=digit_labels)
    keras_acc = float(np.mean(np.argmax(model.predict(xv.astype(np.float32), verbose=0), -1)
                              == yv))
    lite_acc = float(np.mean(np.argmax(tflite.run_tflite(path, xv), -1) == yv))
    from PIL import Image

    folder = tmp_path / "held_out"
    folder.mkdir()
    paths = []
    for i, image in enumerate(xv):
        paths.append(folder / f"{i:04d}.png")
        Image.fromarray(image).save(paths[-1])
    mp = runtimes.classify_mediapipe(path, paths, max_results=10)
    assert mp.labels == digit_labels
    mp_acc = float(np.mean(np.argmax(mp.scores, -1) == yv))
    print(f"\ndigits {size}x{size}, {len(yv)} held-out scans: float Keras {keras_acc:.4f} "
          f"(evaluate {float_acc:.4f}), int8 LiteRT {lite_acc:.4f}, int8 MediaPipe {mp_acc:.4f}, "
          f"{path.stat().st_size / 1e6:.2f} MB")
    # A trained model, or the comparison says little: this recipe (1 head + 2 full epochs, kept
    # short for the slow stage) gave 0.717 here (float 0.7167, int8 LiteRT and MediaPipe 0.7194);
    # training is not bit-reproducible across machines, hence the margin.
    assert keras_acc >= 0.5, keras_acc
    assert abs(lite_acc - keras_acc) <= 0.01, (lite_acc, keras_acc)
    assert mp_acc == lite_acc, (mp_acc, lite_acc)
