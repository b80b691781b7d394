"""``keras-rexnet export``: TFLite (Android) and ONNX files, checked when written."""

import contextlib
import pathlib
import sys
import time
import warnings

from keras_rexnet.files import CHECKPOINT_SUFFIXES, KERAS_WEIGHTS_SUFFIX


def add_export_parser(sub):
    p = sub.add_parser(
        "export", help="export a model to TFLite (Android Task Library) or ONNX",
        description="Export a ReXNet model to a .tflite file with Android Task Library metadata "
                    "(float32, float16, dynamic-range or full-integer int8 with uint8 input and "
                    "output) or to ONNX, then print its size, agreement with the Keras model and "
                    "latency, and whether MediaPipe Tasks and the TFLite Task Library load it, "
                    "its GPU delegate compatibility and its ops with their versions.")
    p.add_argument("model", metavar="MODEL_OR_WEIGHTS",
                   help="a model name (keras-rexnet list; ImageNet weights unless --weights), a "
                        f".keras file or a PyTorch checkpoint ({'/'.join(CHECKPOINT_SUFFIXES)})")
    p.add_argument("--format", choices=["tflite", "onnx"],
                   help="output format (default: from the -o suffix)")
    p.add_argument("--quantize", choices=["int8", "float16", "dynamic"],
                   help="TFLite quantization (default: none, float32)")
    p.add_argument("--calibration", metavar="DIR",
                   help="folder of images for --quantize int8: a few hundred of your own, like the "
                        "app will see")
    p.add_argument("--calibration-count", type=int, default=300, metavar="N",
                   help="use at most N calibration images (default 300)")
    p.add_argument("-o", "--output", required=True, help="OUT.tflite or OUT.onnx")
    p.add_argument("--weights", help=f"with a model name: a {KERAS_WEIGHTS_SUFFIX} or PyTorch "
                                      "checkpoint")
    p.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                   help="input size of the file (default: the model's, or 224 224)")
    p.add_argument("--labels", default="imagenet",
                   help="'imagenet' (default), 'none', or a text file with one label per line")
    p.add_argument("--no-metadata", action="store_true", help="write no TFLite metadata")
    p.add_argument("--eval-images", metavar="DIR",
                   help="images for the agreement check (default: crops of the sample photos "
                        "scikit-learn and matplotlib ship)")
    p.add_argument("--eval-count", type=int, default=48, metavar="N",
                   help="number of images for the agreement check (default 48)")
    p.add_argument("--no-eval", action="store_true", help="skip the agreement and latency check")
    p.set_defaults(func=_cmd_export)
    return p


def _labels(value):
    if value == "imagenet":
        return "imagenet"
    if value.lower() == "none":
        return None
    path = pathlib.Path(value)
    if not path.is_file():
        raise ValueError(f"--labels: {value!r} is not 'imagenet', 'none' or a file")
    from keras_rexnet.tflite.metadata import split_label_file

    return split_label_file(path.read_text(encoding="utf-8"))


def _quiet(args):
    """keras_rexnet.cli's filter of TensorFlow's native log lines on fd 2, unless --verbose."""
    if getattr(args, "verbose", False):
        return contextlib.nullcontext()
    from keras_rexnet.cli import native_log_filter

    return native_log_filter()


def _cmd_export(args):
    from keras_rexnet.tflite import calibration as cal
    from keras_rexnet.tflite.evaluate import evaluate, evaluate_onnx
    from keras_rexnet.tflite import export as ex
    from keras_rexnet.tflite.android import android_report
    from keras_rexnet.tflite.requirements import require

    out = pathlib.Path(args.output)
    fmt = args.format or {".tflite": "tflite", ".onnx": "onnx"}.get(out.suffix.lower())
    if fmt is None:
        raise ValueError("give --format tflite|onnx or an output ending in .tflite or .onnx")
    if fmt == "onnx" and (args.quantize or args.calibration):
        raise ValueError("--quantize and --calibration apply to --format tflite only")
    if args.quantize == "int8" and not args.calibration:
        raise ValueError("--quantize int8 needs --calibration DIR: a few hundred images like the "
                         "ones the app will classify")
    if args.calibration and args.quantize != "int8":
        raise ValueError("--calibration is used by --quantize int8 only")
    for name in ("calibration_count", "eval_count"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    ex.output_path(out, "." + fmt)  # fail before the slow part
    labels = _labels(args.labels)
    require(fmt, metadata=fmt == "tflite" and not args.no_metadata, evaluate=not args.no_eval,
            images=bool(args.calibration) or not args.no_eval)

    from keras_rexnet.model import load_model  # imports Keras: after the checks above

    t0 = time.time()
    model = load_model(args.model, weights=args.weights)
    size = ex.resolve_input_size(model, args.input_size)
    print(f"exporting {model.name} to {out} ({fmt}"
          f"{', ' + args.quantize if args.quantize else ''}, {size[0]}x{size[1]})", flush=True)
    if fmt == "tflite":
        data = None
        if args.quantize == "int8":
            data = cal.calibration_images(args.calibration, n=args.calibration_count, size=size)
            print(f"calibrating with {len(data)} images from {args.calibration}", flush=True)
        # The converter's native lines (e.g. the calibrator's "fully_quantize: ...") stay out.
        with warnings.catch_warnings(), _quiet(args):
            # check_android's findings are printed below instead.
            warnings.simplefilter("ignore", ex.AndroidCompatibilityWarning)
            ex.export_tflite(model, out, quantization=args.quantize, representative_data=data,
                             labels=labels, metadata=not args.no_metadata, input_size=size)
    else:
        with _quiet(args):
            ex.export_onnx(model, out, input_size=args.input_size and size)
    print(f"wrote {out} in {time.time() - t0:.0f} s")
    if not args.no_eval:
        if args.eval_images:
            images = cal.calibration_images(args.eval_images, n=args.eval_count, size=size)
            source = f"{len(images)} images from {args.eval_images}"
        else:
            images = cal.sample_photos(args.eval_count, size=size, seed=12345)
            source = f"{len(images)} crops of the sample photos"
        check = evaluate if fmt == "tflite" else evaluate_onnx
        with _quiet(args):  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line
            result = check(out, images, reference_model=model)
        print(f"checked on {source}:")
        print(result.summary())
    if fmt == "tflite":
        # MediaPipe Tasks and the Task Library load the file; the GPU delegate analysis; ops.
        with _quiet(args):
            report = android_report(out)
        print("Android:")
        print(report.summary())
    sys.stdout.flush()
    return 0
