"""``keras-rexnet convert``: checkpoints to ``.weights.h5``, verified, written atomically."""

import argparse
import contextlib
import dataclasses
import math
import pathlib
import sys
import time

from keras_rexnet.errors import CheckpointError
from keras_rexnet.files import CHECKPOINT_SUFFIXES, KERAS_WEIGHTS_SUFFIX, atomic_path, is_checkpoint


@dataclasses.dataclass
class Conversion:
    checkpoint: str
    output: str
    keras_file: str
    layout: str
    model: str
    params: int
    report: object  # verify.Report, or None with verify=False
    seconds: float

    def summary(self):
        worst = (f"worst layer {self.report.worst.name} max abs {self.report.worst.max_abs:.2e} "
                 f"(logits {self.report.logits.max_abs:.2e})" if self.report else "not verified")
        return (f"{self.checkpoint} -> {self.output}: {self.model} ({self.layout}), "
                f"{self.params:,} params, {worst}, {self.seconds:.1f} s")


def _check_request(found, model_name, path):
    if model_name is None:
        return
    from keras_rexnet import spec as specs

    want = specs.spec_by_name(model_name)
    if want != found.spec:
        raise CheckpointError(path, f"holds {found.name}, not the requested {model_name} "
                                    f"(width {found.spec.width:g} vs {want.width:g}, "
                                    f"family {found.spec.family} vs {want.family})")


def convert(checkpoint, output, model_name=None, verify=True, report_path=None,
            input_size=(224, 224), keras_file=None, tolerance=1e-4, progress=None):
    """Convert one checkpoint to ``output`` (``.weights.h5``), verifying it first.

    Files are written to temporary names and renamed into place only after the
    verification passed; on any failure nothing is left behind. Raises
    :class:`CheckpointError` (a ``ValueError``) with a one-line message.
    """
    from keras_rexnet.converters.checkpoint import read_state_dict
    from keras_rexnet.converters.convert import detect, load_state_into

    start = time.time()
    step = progress or (lambda *_: None)
    output = pathlib.Path(output)
    if not output.name.endswith(KERAS_WEIGHTS_SUFFIX):
        raise CheckpointError(output, f"the output must end with {KERAS_WEIGHTS_SUFFIX}")
    if keras_file is not None and not str(keras_file).endswith(".keras"):
        raise CheckpointError(keras_file, "the Keras model file must end with .keras")
    if not output.parent.is_dir():
        raise CheckpointError(output, f"the output folder {output.parent} does not exist")
    step("read")
    state = read_state_dict(checkpoint)
    step("detect")
    found = detect(state, checkpoint)
    _check_request(found, model_name, checkpoint)
    # Keras (and its backend) load only now: a file that is not a checkpoint fails fast.
    from keras_rexnet.converters.verify import verify_model
    from keras_rexnet.model import build_from_spec

    step("build")
    model = build_from_spec(found.spec, weights=None, classes=found.classes or 1000,
                            include_top=bool(found.classes), model_name=found.name,
                            kernel_initializer="zeros")
    load_state_into(model, found.spec, state, include_top=bool(found.classes), path=checkpoint,
                    model_name=found.name)
    report = None
    if verify:
        step("verify")
        if not found.classes:
            raise CheckpointError(checkpoint, "has no classifier; convert it with --no-verify")
        report = verify_model(model, found.spec, state, found.layout, checkpoint,
                              input_size=input_size, tolerance=tolerance)
        if report_path:
            report.to_json(report_path)
        if not report.passed:
            raise CheckpointError(checkpoint, f"verification failed: {report.first_failure} "
                                              f"differs by {report.worst.max_abs:.3e} "
                                              f"(tolerance {tolerance:g})")
    step("save")
    with contextlib.ExitStack() as files:  # both renamed into place only once both are written
        model.save_weights(files.enter_context(atomic_path(output, KERAS_WEIGHTS_SUFFIX)))
        if keras_file is not None:
            model.save(files.enter_context(atomic_path(keras_file, ".keras")))
    params = int(sum(math.prod(w.shape) for w in model.trainable_weights))
    return Conversion(str(checkpoint), str(output), str(keras_file or ""), found.layout,
                      found.name, params, report, time.time() - start)


def convert_all(folder, out_dir, **kwargs):
    """Convert every checkpoint recognized in ``folder``; returns (conversions, failures)."""
    folder, out_dir = pathlib.Path(folder), pathlib.Path(out_dir)
    if not folder.is_dir():
        raise CheckpointError(folder, "not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    done, failed = [], []
    for path in sorted(folder.iterdir()):
        if not is_checkpoint(path):
            continue
        stem = path.name[: -len(path.suffix)]
        try:
            done.append(convert(path, out_dir / f"{stem}{KERAS_WEIGHTS_SUFFIX}", **kwargs))
        except CheckpointError as e:
            failed.append((str(path), str(e)))
    return done, failed


def add_convert_parser(sub):
    p = sub.add_parser("convert", help="convert an official or timm PyTorch checkpoint to Keras",
                       description=f"Convert a ReXNet PyTorch checkpoint "
                                   f"({'/'.join(CHECKPOINT_SUFFIXES)}, official or timm layout) "
                                   f"to a Keras {KERAS_WEIGHTS_SUFFIX}, verified layer by layer "
                                   f"against PyTorch.")
    p.add_argument("checkpoint", nargs="?", help="the checkpoint file")
    p.add_argument("-o", "--output", help=f"OUT{KERAS_WEIGHTS_SUFFIX} (with --all: a folder)")
    p.add_argument("--all", metavar="DIR", help="convert every checkpoint recognized in DIR")
    p.add_argument("--model", help="expected model name (e.g. rexnet_lite_100); checked")
    p.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                   help="compare with PyTorch layer by layer (default: on; --no-verify)")
    p.add_argument("--report", help="write the per-layer report as JSON here")
    p.add_argument("--keras", dest="keras_file", help="also write a .keras model file")
    p.add_argument("--input-size", nargs=2, type=int, default=(224, 224), metavar=("H", "W"))
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.set_defaults(func=_cmd_convert)


def _progress():
    """A Keras progress bar over the steps, made at the first step that loads Keras anyway."""
    steps = ["read", "detect", "build", "verify", "save"]
    bar = None

    def update(name):
        nonlocal bar
        if bar is None and name in ("read", "detect"):
            return  # importing Keras here would delay a bad file's one-line error by seconds
        if bar is None:
            import keras

            bar = keras.utils.Progbar(len(steps), unit_name="step",
                                      verbose=1 if sys.stdout.isatty() else 2)
        bar.update(steps.index(name))

    def finish():
        if bar is not None:
            bar.update(len(steps))

    return update, finish


def _cmd_convert(args):
    kwargs = dict(model_name=args.model, verify=args.verify, input_size=tuple(args.input_size),
                  tolerance=args.tolerance)
    if args.all:
        if args.checkpoint:
            raise CheckpointError(None, "give either CHECKPOINT or --all DIR, not both")
        if args.keras_file or args.report:
            raise CheckpointError(None, "--keras and --report take one checkpoint, not --all")
        done, failed = convert_all(args.all, args.output or args.all, **kwargs)
        for c in done:
            print(c.summary())
        for path, error in failed:
            print(f"keras-rexnet: error: {error}", file=sys.stderr)
        print(f"converted {len(done)}, failed {len(failed)}")
        return 0 if done and not failed else 2
    if not args.checkpoint or not args.output:
        raise CheckpointError(None, f"convert needs CHECKPOINT and -o OUT{KERAS_WEIGHTS_SUFFIX} "
                                    "(or --all DIR)")
    update, finish = _progress()
    result = convert(args.checkpoint, args.output, report_path=args.report,
                     keras_file=args.keras_file, progress=update, **kwargs)
    finish()
    if result.report is not None:
        print(result.report.table())
    print(result.summary())
    return 0
