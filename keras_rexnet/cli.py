"""The ``keras-rexnet`` command line."""

import argparse
import sys


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
    try:
        from keras_rexnet.converters.cli import add_convert_parser
    except ImportError:  # pragma: no cover - converters ship with the package
        pass
    else:
        add_convert_parser(sub)
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
