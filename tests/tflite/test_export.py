"""TFLite export of the seeded official ReXNet-lite 1.0: float32, float16, int8 (issue 5)."""

import json

import numpy as np
import pytest

from keras_rexnet import tflite
from keras_rexnet.imagenet import class_index
from keras_rexnet.tflite.evaluate import reference_outputs


def test_float32_matches_keras(exported, lite_model, photos):
    path, caught = exported(None)
    assert not caught, caught
    info = tflite.read_model(path)
    assert [(t.dtype, t.shape) for t in info.inputs] == [("float32", (1, 224, 224, 3))]
    assert [(t.dtype, t.shape) for t in info.outputs] == [("float32", (1, 1000))]
    # run_tflite feeds pixels through the metadata's normalization, as the Task Library does
    out = tflite.run_tflite(path, photos)
    ref = reference_outputs(lite_model, photos.astype(np.float32))
    assert np.max(np.abs(out - ref)) <= 1e-4
    assert np.array_equal(out.argmax(-1), ref.argmax(-1))
    assert tflite.check_android(path) == []


def test_float16_within_1e_2(exported, lite_model, photos):
    path, caught = exported("float16")
    assert not caught, caught
    f32_size = exported(None)[0].stat().st_size
    assert path.stat().st_size < 0.6 * f32_size  # float16 weights: about half the bytes
    ev = tflite.evaluate(path, photos, reference_model=lite_model, threads=())
    print(f"\nfloat16: {ev.summary()}")
    assert ev.max_abs_diff <= 1e-2
    assert ev.input_dtype == ev.output_dtype == "float32"
    assert tflite.check_android(path) == []


def test_int8_acceptance(exported, lite_model, photos, record_property):
    """Issue 5: <= 0.3x the float32 file, uint8 in and out, >= 90% top-1 agreement."""
    path, caught = exported("int8")
    assert not any("QuantizationWarning" in w for w in caught), caught  # lite: no SE, no SiLU
    assert not any("AndroidCompatibilityWarning" in w for w in caught), caught
    f32 = exported(None)[0]
    ratio = path.stat().st_size / f32.stat().st_size
    info = tflite.read_model(path)
    assert [(t.dtype, t.shape) for t in info.inputs] == [("uint8", (1, 224, 224, 3))]
    assert [(t.dtype, t.shape) for t in info.outputs] == [("uint8", (1, 1000))]
    # the uint8 input is the pixel itself: scale 1, zero point 0
    assert info.inputs[0].scale == (1.0,) and info.inputs[0].zero_point == (0,)
    # full integer: no float tensor anywhere in the graph (no float fallback ops)
    assert "float32" not in info.tensor_types and "float16" not in info.tensor_types
    ev = tflite.evaluate(path, photos, reference_model=lite_model)
    figures = dict(ev.to_dict(), size_ratio=ratio, float32_bytes=f32.stat().st_size)
    record_property("int8_figures", json.dumps(figures))
    print(f"\nint8 vs float32 file: {ratio:.3f}x\n{ev.summary()}")
    assert ratio <= 0.3
    assert ev.top1_agreement >= 0.9
    assert ev.top5_agreement >= ev.top1_agreement
    assert set(ev.latency_ms) == {1, 2} and all(v > 0 for v in ev.latency_ms.values())
    assert tflite.check_android(path) == []


def test_set_input_quantization_changes_only_the_input(exported, tmp_path, photos):
    """The uint8 input's scale and zero point are rewritten in place: at most their 4 + 8
    bytes change (metadata and the packed labels are kept) and LiteRT runs the file."""
    from keras_rexnet.tflite.metadata import set_input_quantization

    buf = exported("int8")[0].read_bytes()
    new = set_input_quantization(buf, 0.5, 3)
    before, after = tflite.read_model(buf), tflite.read_model(new)
    assert (after.inputs[0].scale, after.inputs[0].zero_point) == ((0.5,), (3,))
    assert after.inputs[0].shape == before.inputs[0].shape and after.inputs[0].dtype == "uint8"
    assert (after.outputs, after.tensor_types, after.files) == \
        (before.outputs, before.tensor_types, before.files)
    assert len(new) == len(buf) and sum(a != b for a, b in zip(buf, new)) <= 12
    assert tflite.read_model(set_input_quantization(new, 1.0, 0)).inputs == before.inputs
    (tmp_path / "changed.tflite").write_bytes(new)
    assert tflite.run_tflite(tmp_path / "changed.tflite", photos[:2]).shape == (2, 1000)
    with pytest.raises(ValueError, match="not per-tensor quantized"):
        set_input_quantization(exported(None)[0].read_bytes(), 1.0, 0)  # a float32 input


def _displayer(path):
    from tensorflow_lite_support.metadata.python.metadata import MetadataDisplayer

    return MetadataDisplayer.with_model_file(str(path))


def _normalization(md_json):
    units = md_json["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"]
    (opts,) = [u["options"] for u in units if u["options_type"] == "NormalizationOptions"]
    return opts["mean"], opts["std"]


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_metadata_read_back(exported, quantization):
    """MetadataDisplayer sees the name, version, identity normalization (the graph normalizes),
    RGB input and the 1000 ImageNet labels as a TENSOR_AXIS_LABELS file."""
    path, _ = exported(quantization)
    d = _displayer(path)
    md = json.loads(d.get_metadata_json())
    assert md["name"] == "rexnet_lite_100"
    assert md["version"] and md["author"] == "keras-rexnet" and md["license"]
    assert "uint8" in md["description"] if quantization else "float32" in md["description"]
    assert _normalization(md) == ([0.0], [1.0])
    inp = md["subgraph_metadata"][0]["input_tensor_metadata"][0]
    assert inp["content"]["content_properties"]["color_space"] == "RGB"
    (out,) = md["subgraph_metadata"][0]["output_tensor_metadata"]
    assert [(f["name"], f["type"]) for f in out["associated_files"]] == [
        ("labels.txt", "TENSOR_AXIS_LABELS")]
    assert d.get_packed_associated_file_list() == ["labels.txt"]
    lines = d.get_associated_file_buffer("labels.txt").decode().splitlines()
    assert len(lines) == 1000
    assert lines == [names.split(",")[0].strip() for _, names in class_index()]
    assert lines[0] == "tench" and lines[999] == "toilet tissue"


def test_normalization_put_in_the_graph_for_models_without_it(work_dir, lite_ckpt, photos):
    """A model built with include_preprocessing=False: MediaPipe Tasks refuses per-channel
    NormalizationOptions, so the exporter prepends the ImageNet normalization to the graph and
    the metadata declares identity (mean 0, std 1): raw pixels fed straight in reproduce Keras
    (preprocess_input applied), and both Android runtimes load the file."""
    import keras_rexnet

    model = keras_rexnet.ReXNetV1Lite(1.0, weights=str(lite_ckpt), include_preprocessing=False)
    assert not tflite.has_preprocessing(model)
    path = tflite.export_tflite(model, work_dir / "lite_noprep.tflite")
    md = json.loads(_displayer(path).get_metadata_json())
    mean, std = _normalization(md)
    assert mean == [0.0] and std == [1.0]
    ref = reference_outputs(model, photos[:16].astype(np.float32))  # preprocess_input applied
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], photos[:1].astype(np.float32))
    interp.invoke()
    raw = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert np.max(np.abs(raw - ref[:1])) <= 1e-4  # the graph normalizes raw pixels itself
    assert np.max(np.abs(tflite.run_tflite(path, photos[:16]) - ref)) <= 1e-4
    assert tflite.check_android(path) == []  # MediaPipe refused the per-channel metadata

def test_evaluate_against_a_wrong_reference_disagrees(exported, lite_ckpt, photos):
    """evaluate() can fail: the same file against a differently seeded model."""
    import keras_rexnet
    from helpers import official_state, save_pth

    other = save_pth(official_state("rexnet_lite_1.0", 2), lite_ckpt.with_name("lite_s2.pth"))
    model = keras_rexnet.ReXNetV1Lite(1.0, weights=str(other))
    ev = tflite.evaluate(exported(None)[0], photos[:16], reference_model=model, threads=())
    assert ev.max_abs_diff > 1e-2


def test_latency_takes_files_of_any_input_type(work_dir):
    """latency() feeds a mid-range input of the file's own type (int8 files too)."""
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    calib = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype(np.float32)
    for dtype in (tf.int8, tf.uint8, tf.float32):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if dtype != tf.float32:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x[None]] for x in calib)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = dtype
        path = work_dir / f"tiny_{dtype.name}.tflite"
        path.write_bytes(converter.convert())
        assert tflite.read_model(path).inputs[0].dtype == dtype.name
        ms = tflite.latency(path, threads=(1,), runs=2, warmup=1)
        assert set(ms) == {1} and ms[1] > 0
    # several files side by side, in alternating rounds: one figure per (file, threads)
    files = {d: work_dir / f"tiny_{d}.tflite" for d in ("int8", "uint8")}
    ms = tflite.latency(files, threads=(1, 2), runs=3, warmup=1, rounds=2)
    assert set(ms) == {(d, t) for d in files for t in (1, 2)} and min(ms.values()) > 0
    with pytest.raises(ValueError, match="rounds"):
        tflite.latency(files, threads=(1,), runs=3, rounds=0)
