"""The ``keras-rexnet`` command line."""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out


def _cmd_list(args):
    from keras_rexnet.model import list_models

    print("\n".join(list_models(args.pattern)))
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
    import pathlib

    import keras

    from keras_rexnet.model import create_model

    if spec_arg.endswith(".keras"):
        if not pathlib.Path(spec_arg).is_file():
            raise ValueError(f"{spec_arg}: no such file")
        return keras.saving.load_model(spec_arg, compile=False)
    return create_model(spec_arg, weights=weights)


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
    import keras

    from keras_rexnet import spec as specs
    from keras_rexnet.bench import machine_info, seeded_model, time_inference

    if args.runs < 1 or args.size < 32 or any(b < 1 for b in args.batch):
        raise ValueError("--runs and --batch must be >= 1 and --size >= 32")
    if args.model.endswith(".keras"):
        model = _load_model(args.model, None)
    else:
        specs.spec_by_name(args.model)  # an unknown name: one-line error
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


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-rexnet", description="ReXNet for Keras 3")
    sub = parser.add_subparsers(dest="command", required=True)
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
                   help="'imagenet' (default), a .weights.h5 or a PyTorch checkpoint")
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
    from keras_rexnet import train

    p = sub.add_parser("train", help="train from scratch with the paper's ImageNet recipe")
    train.build_parser(p)
    p.set_defaults(func=train.run)
    from keras_rexnet.converters.cli import add_convert_parser
    from keras_rexnet.tflite.cli import add_export_parser

    add_convert_parser(sub)
    add_export_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:  # CheckpointError included: one line, no traceback
        print(f"keras-rexnet: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
