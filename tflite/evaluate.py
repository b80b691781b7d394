"""Run exported files (LiteRT, ONNX Runtime) and compare them with the Keras float model."""

import dataclasses
import os
import pathlib
import statistics
import time

import numpy as np

LATENCY_THREADS = (1, 2)


@dataclasses.dataclass
class Evaluation:
    """What :func:`evaluate` measured. Agreement fields are None without a reference model.

    ``top1_agreement``: share of images where the file's top class is the Keras model's.
    ``top5_agreement``: share where the Keras top class is among the file's top 5.
    ``top5_overlap``: mean share of the Keras top-5 classes found in the file's top 5.
    ``logit_cosine``: mean cosine similarity of the logits recovered from the outputs
    (log-probabilities centered per image; for uint8 outputs, probabilities that quantize to 0
    are floored at half a quantization step on both sides). ``max_abs_diff`` and
    ``mean_abs_diff``: on the outputs as the app reads them (dequantized probabilities).
    ``distinct_reference_top1``: how many different top classes the Keras model gave; with 1,
    top-1 agreement says little (every image has the same answer).
    ``latency_ms``: median wall time of one inference per thread count (XNNPACK for LiteRT).
    """

    path: str
    format: str
    size_bytes: int
    n_images: int
    input_dtype: str
    output_dtype: str
    top1_agreement: float = None
    top5_agreement: float = None
    top5_overlap: float = None
    logit_cosine: float = None
    max_abs_diff: float = None
    mean_abs_diff: float = None
    distinct_reference_top1: int = None
    top1_accuracy: float = None
    top5_accuracy: float = None
    reference_top1_accuracy: float = None
    latency_ms: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return dataclasses.asdict(self)

    def summary(self):
        lines = [f"{self.path}: {self.format}, {self.size_bytes / 1e6:.2f} MB, "
                 f"{self.input_dtype} input, {self.output_dtype} output"]
        if self.top1_agreement is not None:
            lines.append(
                f"agreement with Keras on {self.n_images} images: top-1 "
                f"{100 * self.top1_agreement:.1f}%, top-5 {100 * self.top5_agreement:.1f}% "
                f"(top-5 sets {100 * self.top5_overlap:.1f}% alike), "
                f"logit cosine {self.logit_cosine:.4f}, max |diff| {self.max_abs_diff:.2e} "
                f"(mean {self.mean_abs_diff:.2e})")
            if self.distinct_reference_top1 == 1 and self.n_images > 1:
                lines.append("note: the Keras model gives the same top class for every image, so "
                             "top-1 agreement is not informative here")
        if self.top1_accuracy is not None:
            lines.append(f"accuracy: top-1 {100 * self.top1_accuracy:.1f}% (Keras "
                         f"{100 * self.reference_top1_accuracy:.1f}%), top-5 "
                         f"{100 * self.top5_accuracy:.1f}%")
        if self.latency_ms:
            lat = ", ".join(f"{ms:.1f} ms at {t} thread{'s' if t > 1 else ''}"
                            for t, ms in self.latency_ms.items())
            lines.append(f"median latency ({'XNNPACK' if self.format == 'tflite' else 'CPU'}): "
                         f"{lat}")
        return "\n".join(lines)


def _interpreter(path, num_threads=None):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=num_threads)
    interp.allocate_tensors()
    return interp


def _fit(images, size):
    """float32 pixels (n, H, W, 3) at ``size``; other sizes are resized and center-cropped."""
    from keras_rexnet.tflite.calibration import fit_image, pixel_batch

    if isinstance(images, (str, os.PathLike)):
        from keras_rexnet.tflite.calibration import calibration_images

        return calibration_images(images, n=10 ** 6, size=size).astype(np.float32)
    arr = np.asarray(images) if not isinstance(images, (list, tuple)) else None
    if arr is not None and arr.ndim == 4 and tuple(arr.shape[1:3]) != tuple(size):
        arr = np.stack([fit_image(a, size, crop=1.0) for a in arr])
        images = arr
    return pixel_batch(images, size, what="images")


def _feed(x, detail, normalization):
    """Turn float pixels into what the input tensor takes, as the Task Library does."""
    if detail["dtype"] == np.uint8:
        return np.clip(np.round(x), 0, 255).astype(np.uint8)
    if detail["dtype"] == np.int8:
        scale, zp = detail["quantization"]
        return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
    if normalization is not None:
        mean, std = (np.asarray(v, np.float32) for v in normalization)
        x = (x - mean) / std
    return x.astype(detail["dtype"])


def run_tflite(path, images, num_threads=None):
    """Outputs of a ``.tflite`` file for RGB pixels, one image at a time, dequantized.

    Pixels go in as an Android app's Task Library feeds them: uint8 as is, float32 through
    the metadata's NormalizationOptions (raw pixels when the file has none).
    """
    from keras_rexnet.tflite.metadata import read_model

    info = read_model(path)
    interp = _interpreter(path, num_threads)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    x = _fit(images, tuple(inp["shape"][1:3]))
    norm = info.normalization
    outputs = []
    for image in x:
        interp.set_tensor(inp["index"], _feed(image[None], inp, norm))
        interp.invoke()
        y = interp.get_tensor(out["index"]).reshape(-1).astype(np.float32)
        if out["dtype"] in (np.uint8, np.int8):
            scale, zp = out["quantization"]
            y = (y - zp) * scale
        outputs.append(y)
    return np.stack(outputs)


def latency(path, threads=LATENCY_THREADS, runs=20, warmup=3, image=None, rounds=1):
    """Median milliseconds of one inference of ``.tflite`` files per thread count.

    ``path``: one file, giving ``{threads: ms}``, or a dict ``{name: file}``, giving
    ``{(name, threads): ms}``. With ``rounds`` > 1 the ``runs`` of each file and thread count
    are taken in that many rounds that alternate between them, so a burst of load on a shared
    machine hits all alike (ratios between the files are then fair)."""
    paths = path if isinstance(path, dict) else {None: path}
    if runs < 1 or rounds < 1:
        raise ValueError(f"runs and rounds must be >= 1, got runs={runs}, rounds={rounds}")
    interps = {}
    for name, file in paths.items():
        for t in threads:
            interp = _interpreter(file, t)
            inp = interp.get_input_details()[0]
            if image is None:
                dtype = np.dtype(inp["dtype"])
                mid = (int(np.iinfo(dtype).min) + int(np.iinfo(dtype).max) + 1) // 2 \
                    if dtype.kind in "iu" else 128.0
                x = np.full(inp["shape"], mid, dtype=dtype)  # mid-range of any input type
            else:
                x = _feed(np.asarray(image, np.float32)[None], inp, None)
            interp.set_tensor(inp["index"], x)
            for _ in range(warmup):
                interp.invoke()
            interps[(name, t)] = interp
    times = {key: [] for key in interps}
    per_round = -(-runs // rounds)
    for _ in range(rounds):
        for key, interp in interps.items():
            for _ in range(min(per_round, runs - len(times[key]))):
                t0 = time.perf_counter()
                interp.invoke()
                times[key].append(time.perf_counter() - t0)
    result = {key: 1e3 * statistics.median(v) for key, v in times.items()}
    return result if isinstance(path, dict) else {t: ms for (_, t), ms in result.items()}


def reference_outputs(model, pixels, batch_size=16):
    """The Keras model's outputs for RGB pixels (``preprocess_input`` applied for models built
    with ``include_preprocessing=False``)."""
    from keras_rexnet.imagenet import preprocess_input
    from keras_rexnet.tflite.export import has_preprocessing

    x = pixels if has_preprocessing(model) else preprocess_input(pixels)
    return np.asarray(model.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0),
                      np.float32)


def _logits(p, floor):
    if np.all(p >= 0) and np.allclose(p.sum(-1), 1.0, atol=0.05):
        z = np.log(np.maximum(p, floor))
    else:
        z = p.astype(np.float64)
    return z - z.mean(-1, keepdims=True)


def compare(outputs, reference, floor=1e-30):
    """Agreement statistics of ``outputs`` against ``reference`` (both (n, classes))."""
    outputs, reference = np.asarray(outputs, np.float64), np.asarray(reference, np.float64)
    ref_top1 = reference.argmax(-1)
    top5 = np.argsort(-outputs, axis=-1, kind="stable")[:, :5]
    ref_top5 = np.argsort(-reference, axis=-1, kind="stable")[:, :5]
    a, b = _logits(outputs, floor), _logits(reference, floor)
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1),
                                       1e-30)
    diff = np.abs(outputs - reference)
    return dict(top1_agreement=float(np.mean(outputs.argmax(-1) == ref_top1)),
                top5_agreement=float(np.mean([r in t for r, t in zip(ref_top1, top5)])),
                top5_overlap=float(np.mean([len(set(t) & set(r)) / 5
                                            for t, r in zip(top5, ref_top5)])),
                logit_cosine=float(np.mean(cos)), max_abs_diff=float(diff.max()),
                mean_abs_diff=float(diff.mean()),
                distinct_reference_top1=int(len(np.unique(ref_top1))))


def _accuracy(outputs, reference, labels):
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != outputs.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {outputs.shape[0]} images")
    top5 = np.argsort(-outputs, axis=-1, kind="stable")[:, :5]
    res = dict(top1_accuracy=float(np.mean(outputs.argmax(-1) == labels)),
               top5_accuracy=float(np.mean([l in t for l, t in zip(labels, top5)])))
    if reference is not None:
        res["reference_top1_accuracy"] = float(np.mean(reference.argmax(-1) == labels))
    return res


def evaluate(path, images, reference_model=None, labels=None, threads=LATENCY_THREADS, runs=20):
    """Run a ``.tflite`` file in LiteRT on RGB images and compare it with the Keras model.

    Args:
        path: the ``.tflite`` file.
        images: RGB pixels in [0, 255]: an array ``(n, H, W, 3)`` (other sizes are resized), an
            iterable of images, or a folder. Fed as the Task Library would (see
            :func:`run_tflite`); the Keras model sees the same pixels.
        reference_model: the Keras float model; gives the agreement figures.
        labels: optional true class indices of the images; gives accuracies.
        threads, runs: latency is the median of ``runs`` inferences at each thread count,
            with the XNNPACK delegate (LiteRT's default on CPU); ``threads=()`` skips it.

    Returns an :class:`Evaluation`.
    """
    path = pathlib.Path(os.fspath(path))
    if not path.is_file():
        raise ValueError(f"{str(path)!r}: no such file")
    interp = _interpreter(path)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    size = tuple(int(s) for s in inp["shape"][1:3])
    pixels = _fit(images, size)
    if inp["dtype"] in (np.uint8, np.int8):
        pixels = np.clip(np.round(pixels), 0, 255)  # both sides see the same integer pixels
    outputs = run_tflite(path, pixels)
    ev = Evaluation(str(path), "tflite", path.stat().st_size, len(pixels),
                    np.dtype(inp["dtype"]).name, np.dtype(out["dtype"]).name)
    reference = None
    if reference_model is not None:
        reference = reference_outputs(reference_model, pixels)
        if reference.shape != outputs.shape:
            raise ValueError(f"the reference model gives {reference.shape[1:]} outputs, the file "
                             f"{outputs.shape[1:]}")
        floor = out["quantization"][0] / 2 if out["dtype"] in (np.uint8, np.int8) else 1e-30
        for k, v in compare(outputs, reference, floor).items():
            setattr(ev, k, v)
    if labels is not None:
        for k, v in _accuracy(outputs, reference, labels).items():
            setattr(ev, k, v)
    if threads:
        ev.latency_ms = latency(path, threads=threads, runs=runs, image=pixels[0])
    return ev


def run_onnx(path, images, num_threads=None):
    """Outputs of an ONNX file (as exported by :func:`export_onnx`) for model inputs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if num_threads:
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.asarray(images, np.float32)
    return np.concatenate([sess.run(None, {name: x[i:i + 16]})[0] for i in range(0, len(x), 16)])


def evaluate_onnx(path, images, reference_model=None, labels=None, threads=LATENCY_THREADS,
                  runs=20):
    """As :func:`evaluate`, for an ONNX file in ONNX Runtime (CPU)."""
    import onnxruntime as ort

    from keras_rexnet.imagenet import preprocess_input

    path = pathlib.Path(os.fspath(path))
    if not path.is_file():
        raise ValueError(f"{str(path)!r}: no such file")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    spec = sess.get_inputs()[0]
    h, w = spec.shape[1], spec.shape[2]
    size = (h if isinstance(h, int) else 224, w if isinstance(w, int) else 224)
    pixels = _fit(images, size)
    x = pixels
    if reference_model is not None:
        from keras_rexnet.tflite.export import has_preprocessing

        if not has_preprocessing(reference_model):
            x = preprocess_input(pixels)
    outputs = run_onnx(path, x)
    ev = Evaluation(str(path), "onnx", path.stat().st_size, len(pixels), "float32", "float32")
    reference = None
    if reference_model is not None:
        reference = reference_outputs(reference_model, pixels)
        for k, v in compare(outputs, reference).items():
            setattr(ev, k, v)
    if labels is not None:
        for k, v in _accuracy(outputs, reference, labels).items():
            setattr(ev, k, v)
    for t in threads or ():
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = t, 1
        s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        times = []
        for i in range(3 + runs):
            t0 = time.perf_counter()
            s.run(None, {spec.name: x[:1]})
            if i >= 3:
                times.append(time.perf_counter() - t0)
        ev.latency_ms[t] = 1e3 * statistics.median(times)
    return ev
