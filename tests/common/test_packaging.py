"""The wheel: converters/ and tflite/ install under keras_rexnet, the data files ship."""

import subprocess
import sys
import zipfile

from helpers import ROOT


def test_wheel_layout(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", str(ROOT), "-w", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("keras_rexnet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"keras_rexnet"}
    for required in ["keras_rexnet/converters/convert.py", "keras_rexnet/tflite/__init__.py",
                     "keras_rexnet/data/imagenet_class_index.json"]:
        assert required in names
    entry = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "keras-rexnet = keras_rexnet.cli:main" in entry
