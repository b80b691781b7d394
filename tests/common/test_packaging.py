"""The wheel (converters/ and tflite/ install under keras_rexnet, the data files ship, honest
metadata from pyproject.toml) and the lazy package (``import keras_rexnet`` loads no Keras)."""

import email
import json
import os
import subprocess
import sys
import tomllib
import zipfile

import pytest

from helpers import ROOT

CORE = {"keras", "numpy", "h5py", "huggingface_hub", "safetensors", "gdown", "filelock"}


def _name(requirement):
    """The distribution name of a Requires-Dist line (``"torch>=2.1; extra == 'x'"`` -> torch)."""
    for sep in "[<>=!~; ":
        requirement = requirement.split(sep)[0]
    return requirement.lower().replace("_", "-")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", str(ROOT), "-w", str(out)],
                          capture_output=True, text=True, cwd=out, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "absent from the `packages` configuration" not in proc.stderr, proc.stderr
    (path,) = out.glob("keras_rexnet-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_layout(wheel):
    names = wheel.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"keras_rexnet"}
    for folder, package in [("keras_rexnet", "keras_rexnet"),
                            ("converters", "keras_rexnet/converters"),
                            ("tflite", "keras_rexnet/tflite")]:
        sources = sorted(p.name for p in (ROOT / folder).glob("*.py"))
        shipped = sorted(n.rsplit("/", 1)[1] for n in names
                         if n.rsplit("/", 1)[0] == package and n.endswith(".py"))
        assert sources and shipped == sources, folder  # all of them, and nothing stale
    data = sorted(p.name for p in (ROOT / "keras_rexnet" / "data").glob("*.json"))
    assert "imagenet_class_index.json" in data
    assert all(f"keras_rexnet/data/{d}" in names for d in data)
    entry = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "keras-rexnet = keras_rexnet.cli:main" in entry


def test_wheel_metadata(wheel):
    import keras_rexnet

    meta = email.message_from_bytes(
        wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))))
    assert meta["Name"] == "keras-rexnet" and meta["Version"] == keras_rexnet.__version__
    assert meta["Requires-Python"] == ">=3.10" and meta["License-Expression"] == "MIT"
    assert "ReXNet" in meta["Summary"] and "keras-rexnet" in meta.get_payload()  # the README
    requires = meta.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    assert {_name(r) for r in core} == {c.replace("_", "-") for c in CORE}
    assert all(any(op in r for op in (">=", "~=")) and "==" not in r for r in core)  # ranges
    extras = {}
    for r in requires:
        if "extra ==" in r:
            extras.setdefault(r.rsplit("extra ==", 1)[1].strip(' "\''), set()).add(_name(r))
    assert set(meta.get_all("Provides-Extra")) == {"tf", "jax", "torch", "convert", "tflite",
                                                   "dev", "all"}
    assert extras["tf"] == {"tensorflow-cpu", "tensorflow"}  # one of them, by platform
    assert extras["jax"] == {"jax"} and extras["torch"] == {"torch"}
    assert extras["convert"] == {"torch", "timm"}
    assert {"keras-rexnet", "ai-edge-litert", "tf2onnx", "onnx", "onnxruntime", "pillow",
            "scikit-learn"} <= extras["tflite"]
    assert "tflite-support" not in extras["tflite"]  # pins protobuf<4: installed --no-deps
    assert not any(_name(r) in ("torch", "tensorflow", "tensorflow-cpu", "jax") for r in core)


def test_pyproject_is_the_one_declaration():
    """setup.py declares nothing; pyproject.toml reads the version without importing Keras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "keras_rexnet.__version__"}
    setup_code = (ROOT / "setup.py").read_text()
    assert "setup()" in setup_code and "install_requires" not in setup_code
    requirements = (ROOT / "requirements.txt").read_text().split()
    assert {"gdown", "filelock", "huggingface_hub"} <= {_name(r).replace("-", "_")
                                                        for r in requirements}


_LAZY = """
import json, sys
import keras_rexnet
state = {"after_import": sorted(m for m in ("keras", "tensorflow", "torch", "jax", "numpy")
                                if m in sys.modules),
         "version": keras_rexnet.__version__,
         "all_in_dir": set(keras_rexnet.__all__) <= set(dir(keras_rexnet))}
from keras_rexnet import spec, CheckpointError
state["submodule"] = callable(keras_rexnet.summary.model_row)  # any submodule, on access
state["spec_only"] = sorted(m for m in ("keras", "tensorflow") if m in sys.modules)
import keras
state["registered"] = keras.saving.get_registered_object("keras_rexnet>PartialShortcut") is not None
from keras_rexnet import ReXNetV1
state["builder"] = ReXNetV1 is keras_rexnet.ReXNetV1 and callable(ReXNetV1)
print(json.dumps(state))
"""


@pytest.mark.parametrize("order", ["keras_rexnet_first", "keras_first"])
def test_lazy_package(order):
    """`import keras_rexnet` loads no Keras; the API loads on use; the custom layers register
    with Keras whichever is imported first (a .keras file loads without custom_objects)."""
    code = _LAZY if order == "keras_rexnet_first" else "import keras\n" + _LAZY
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    if order == "keras_rexnet_first":
        assert state["after_import"] == [] and state["spec_only"] == []
    assert state["version"] == __import__("keras_rexnet").__version__ and state["all_in_dir"]
    assert state["registered"] and state["builder"] and state["submodule"]


def test_api_names():
    """__all__ is exactly the lazily exported names; an unknown name is an AttributeError."""
    import keras_rexnet

    assert sorted(keras_rexnet.__all__) == sorted(
        [*keras_rexnet._EXPORTS, *keras_rexnet._SUBMODULES, "export_onnx"])
    assert len(set(keras_rexnet.__all__)) == len(keras_rexnet.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        keras_rexnet.nope  # noqa: B018
