"""The ``keras-rexnet`` command line.

``--help``, ``list`` and ``summary`` import no Keras and no backend (they read
:mod:`keras_rexnet.spec`), so they answer at once. Without ``--verbose`` no command shows
TensorFlow's native log lines (see :func:`quiet_tensorflow`). Errors are one line on stderr
and exit status 2.
"""

import argparse
import contextlib
import logging
import os
import re
import sys
import tempfile

# TensorFlow's native log lines, as TensorFlow 2.21 writes them to fd 2 while `import tensorflow`
# loads its libraries (absl format; TensorFlow's older format; the second line of
# cpu_feature_guard's notice); LiteRT's notice when an interpreter is made; the TFLite
# calibrator's settings line (int8 conversion).
_NATIVE_LOG = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\] "
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler"
    r"|INFO: Created TensorFlow Lite \S+ delegate for CPU\.$"
    r"|fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, "
    r"output_inference_type: \w+$")

# A missing optional module -> what to install (ModuleNotFoundError's one-line hint).
_INSTALL = {
    "tensorflow": "pip install 'keras-rexnet[tf]'", "jax": "pip install 'keras-rexnet[jax]'",
    "torch": "pip install 'keras-rexnet[torch]'", "timm": "pip install 'keras-rexnet[convert]'",
    "PIL": "pip install pillow", "tf2onnx": "pip install 'keras-rexnet[tflite]'",
    "onnx": "pip install 'keras-rexnet[tflite]'", "onnxruntime": "pip install 'keras-rexnet[tflite]'",
    "ai_edge_litert": "pip install 'keras-rexnet[tflite]'",
    "sklearn": "pip install scikit-learn",
}


@contextlib.contextmanager
def native_log_filter():
    """Route fd 2 to a temporary file; on exit restore it and replay all but TensorFlow's lines.

    For the native libraries, which write to fd 2 directly (``sys.stderr`` is not involved);
    Python's own stderr output in between (warnings, tracebacks) is kept, in order.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (a detached process): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines = tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not _NATIVE_LOG.match(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


_quiet = False


def quiet_tensorflow():
    """Keep TensorFlow's native log lines off stderr in this process (idempotent).

    ``TF_CPP_MIN_LOG_LEVEL=3`` silences TensorFlow's own logging (cpu_feature_guard, and every
    later INFO/WARNING/ERROR line). It does not silence absl's "All log messages before
    absl::InitializeLog() ..." banner nor the oneDNN notice, which TensorFlow 2.21 writes while
    its libraries load; ``GLOG_minloglevel``, ``ABSL_MIN_LOG_LEVEL`` and
    ``ABSL_STDERRTHRESHOLD`` do not either (``TF_ENABLE_ONEDNN_OPTS=0`` would, by changing the
    numbers). So the first ``import tensorflow`` (by Keras or anyone) runs with fd 2 routed
    through :func:`native_log_filter`, after which TensorFlow's Python logger is set to ERROR.
    ``export`` also filters the conversion and the check (``tflite/cli.py``). Must run before
    anything imports TensorFlow.
    """
    global _quiet
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if _quiet:
        return
    _quiet = True
    from keras_rexnet import _wrap_import

    def filtered(exec_module):
        def exec_quietly(module):
            with native_log_filter():
                exec_module(module)
            # TensorFlow's Python logger ("WARNING:tensorflow:From ...: ... is deprecated").
            logging.getLogger("tensorflow").setLevel(logging.ERROR)

        return exec_quietly

    _wrap_import("tensorflow", filtered)


def _cmd_list(args):
    import fnmatch

    from keras_rexnet import spec as specs

    names = list(specs.MODEL_NAMES)  # as keras_rexnet.list_models, without importing Keras
    if args.pattern:
        names = [n for n in names if fnmatch.fnmatch(n, args.pattern)]
    print("\n".join(names))
    return 0


def _cmd_summary(args):
    from keras_rexnet.summary import format_table, model_row, stage_rows

    row = model_row(args.name, tuple(args.input_size))
    print(format_table([row], ["name", "params", "macs", "output"]))
    print()
    print(format_table(stage_rows(args.name, tuple(args.input_size)),
                       ["stride", "block", "channels", "size"]))
    return 0


def _load_model(spec_arg, weights):
    from keras_rexnet.model import load_model

    # --weights defaults to "imagenet", which is load_model's default for a name (None), and
    # must not be refused with a .keras file or a checkpoint
    return load_model(spec_arg, weights=None if weights == "imagenet" else weights)


def _cmd_classify(args):
    import numpy as np

    from keras_rexnet.imagenet import decode_predictions, load_image

    images = [load_image(path, args.size) for path in args.images]  # validate all first
    model = _load_model(args.model, args.weights)
    probs = np.asarray(model.predict(np.stack(images), verbose=0))
    if probs.shape[-1] != 1000:
        raise ValueError(f"{args.model} has {probs.shape[-1]} classes; classify decodes "
                         "ImageNet-1k predictions")
    for path, top in zip(args.images, decode_predictions(probs, top=args.top)):
        print(path)
        for rank, (synset, name, score) in enumerate(top, 1):
            print(f"  {rank}. {name:<30} {synset}  {score:.4f}")
    return 0


def _cmd_bench(args):
    from keras_rexnet import spec as specs

    if args.runs < 1 or args.size < 32 or any(b < 1 for b in args.batch):
        raise ValueError("--runs and --batch must be >= 1 and --size >= 32")
    if not args.model.endswith(".keras"):
        specs.spec_by_name(args.model)  # an unknown name: one-line error, before Keras loads
    import keras

    from keras_rexnet.bench import machine_info, seeded_model, time_inference

    if args.model.endswith(".keras"):
        model = _load_model(args.model, None)
    else:
        model = seeded_model(args.model)
    info = machine_info()
    print(f"{model.name} on Keras {keras.__version__} / {keras.config.backend()}, "
          f"{args.size}x{args.size}, median of {args.runs} runs; {info['cpu']}, "
          f"{info['cores']} cores")
    print(f"{'path':<34} {'batch':>5} {'ms':>9} {'images/s':>9} {'speed-up':>8}")
    for batch in args.batch:
        rows = time_inference(model, batch, args.size, args.runs)
        base = rows[0]["ms"]
        for r in rows:
            print(f"{r['path']:<34} {batch:>5} {r['ms']:9.2f} {r['images_per_s']:9.1f} "
                  f"{base / r['ms']:7.2f}x")
    return 0


def _cmd_train(args):
    from keras_rexnet import train

    return train.run(args)


def _train_arguments(parser):
    from keras_rexnet import train  # imports Keras: only when `train` is used

    train.build_parser(parser)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that can add its arguments on first use: ``lazy=fn(parser)``."""

    def __init__(self, *args, lazy=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def _fill(self):
        if self._lazy is not None:
            lazy, self._lazy = self._lazy, None
            lazy(self)

    def parse_known_args(self, args=None, namespace=None):
        self._fill()
        return super().parse_known_args(args, namespace)

    def format_usage(self):
        self._fill()
        return super().format_usage()

    def format_help(self):
        self._fill()
        return super().format_help()


VERBOSE_HELP = "show TensorFlow's native log lines, and a traceback with errors"


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-rexnet", description="ReXNet for Keras 3")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("list", help="list model names")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch pattern, e.g. 'rexnet_lite_*'")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("summary", help="parameters, MACs and per-stage shapes of a model")
    p.add_argument("name")
    p.add_argument("--input-size", nargs=2, type=int, default=(224, 224), metavar=("H", "W"))
    p.set_defaults(func=_cmd_summary)
    p = sub.add_parser("classify", help="classify images with an ImageNet model (top-k)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", default="rexnet_lite_100",
                   help="model name (see `keras-rexnet list`) or a .keras file")
    p.add_argument("--weights", default="imagenet",
                   help="'imagenet' (default), a .weights.h5, a PyTorch checkpoint or "
                        "hf://ORG/REPO[/FILE]")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--size", type=int, default=224, help="center-crop size (default 224)")
    p.set_defaults(func=_cmd_classify)
    p = sub.add_parser("bench", help="time inference paths of a model on this backend "
                       "(KERAS_BACKEND)")
    p.add_argument("model", nargs="?", default="rexnet_100",
                   help="model name (seeded weights) or a .keras file (default rexnet_100)")
    p.add_argument("--batch", nargs="+", type=int, default=[1], help="batch sizes (default 1)")
    p.add_argument("--size", type=int, default=224, help="image side (default 224)")
    p.add_argument("--runs", type=int, default=20, help="timed runs per path (default 20)")
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser("train", help="train from scratch with the paper's ImageNet recipe",
                       lazy=_train_arguments)
    p.set_defaults(func=_cmd_train)
    from keras_rexnet.converters.cli import add_convert_parser
    from keras_rexnet.tflite.cli import add_export_parser

    add_convert_parser(sub)
    add_export_parser(sub)
    for p in sub.choices.values():  # `keras-rexnet CMD ... --verbose` works too
        p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                       help=VERBOSE_HELP)
    return parser


def _message(error):
    """The one line printed for an error."""
    text = " ".join(str(error).strip().splitlines()) or type(error).__name__
    if isinstance(error, ModuleNotFoundError) and error.name:
        hint = _INSTALL.get(error.name.partition(".")[0])
        if hint:
            text += f" ({hint})"
    return text


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    options = argv[:argv.index("--")] if "--" in argv else argv
    if "--verbose" not in options:
        quiet_tensorflow()  # before anything (`train`'s arguments included) imports TensorFlow
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError, ImportError) as e:  # CheckpointError included: one line
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"keras-rexnet: error: {_message(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
