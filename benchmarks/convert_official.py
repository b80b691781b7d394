"""Benchmark: convert + verify all 9 published official configurations, seeded.

Builds each official-layout checkpoint with `converters.seeded` (seed 1), then times
`keras_rexnet.converters.cli.convert` (read, detect, build, load, layer-by-layer
verification at 224x224 against the NumPy oracle -- no torch -- atomic save) for each;
``verify_seconds`` is the verification alone (Keras twin, probe, oracle, comparison).
Checkpoint creation is not timed. Goal (issues 3 and 16): <= 60 s in total on 2 cores.

Usage: KERAS_BACKEND=tensorflow python benchmarks/convert_official.py
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from machine import machine_info  # noqa: E402

PUBLISHED = ["rexnetv1_1.0", "rexnetv1_1.3", "rexnetv1_1.5", "rexnetv1_2.0", "rexnetv1_3.0",
             "rexnet_lite_1.0", "rexnet_lite_1.3", "rexnet_lite_1.5", "rexnet_lite_2.0"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = pathlib.Path(__file__).resolve().parents[1]
    parser.add_argument("--out", default=str(root / "benchmarks" / "results" / "convert.json"))
    args = parser.parse_args()
    import keras

    from keras_rexnet import spec as specs
    from keras_rexnet.converters.cli import convert
    from keras_rexnet.converters.seeded import save_checkpoint, seeded_state

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name in PUBLISHED:
            lite = name.startswith("rexnet_lite")
            spec = specs.spec_for("rexnet_lite" if lite else "rexnet_v1",
                                  float(name.split("_")[-1]))
            save_checkpoint(seeded_state(spec, "official_lite" if lite else "official_v1", 1),
                            tmp / f"{name}.pth")
        total = time.perf_counter()
        for name in PUBLISHED:
            start = time.perf_counter()
            result = convert(tmp / f"{name}.pth", tmp / f"{name}.weights.h5")
            rows.append({"checkpoint": name, "model": result.model, "seconds":
                         round(time.perf_counter() - start, 2),
                         "verify_seconds": round(result.report.seconds, 2),
                         "logits_max_abs": result.report.logits.max_abs,
                         "worst_max_rel": result.report.worst.max_rel,
                         "passed": result.report.passed})
            print(f"{name:<18} {result.model:<17} {rows[-1]['seconds']:6.2f} s (verify "
                  f"{rows[-1]['verify_seconds']:5.2f} s)  logits max abs "
                  f"{result.report.logits.max_abs:.2e}", flush=True)
        total = time.perf_counter() - total
    info = machine_info()
    print(f"total {total:.1f} s for {len(rows)} configurations on {info['cpu']} "
          f"({info['cores']} cores), Keras backend {keras.config.backend()}")
    pathlib.Path(args.out).write_text(json.dumps(
        {"backend": keras.config.backend(), "total_seconds": round(total, 2), "rows": rows,
         "machine": info}, indent=2) + "\n")


if __name__ == "__main__":
    main()
