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
