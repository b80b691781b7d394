"""Issue 16: ``weights="imagenet"`` in an environment without PyTorch, TensorFlow or timm.

A fresh venv (this interpreter's base Python) gets ``pip install REPO[jax]``: a real,
non-editable install, so what runs is the wheel's content -- its package data, and
``converters/`` and ``tflite/`` installed as ``keras_rexnet.converters`` and
``keras_rexnet.tflite``. Its dependencies come from pip's usual sources (this machine's wheels,
PyPI), pinned to requirements.txt's versions by a constraints file. In that venv, on the JAX
backend, the packaged registry's sources are fetched from the stand-ins of tests/standins.py
(timm's safetensors on the Hugging Face Hub for ReXNetV1 1.5, NAVER's .pth on Google Drive for
ReXNet-lite 1.0), converted and verified layer by layer against the NumPy oracle, and give the
reference logits; torch is never imported. Then, servers stopped and ``HF_HUB_OFFLINE=1``, both
load from the cache; a wrong pinned sha256 is refused and leaves nothing behind.

The repository is copied (without build/, .venv, .git, caches) before installing: a stale
``build/lib`` in a working tree (setuptools never empties it) would otherwise put modules deleted
from the sources into the wheel.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from helpers import ROOT
from keras_rexnet import spec as specs
from standins import (LITE_DRIVE_ID, LITE_DRIVE_URL, V150_GET, V150_REPO, V150_URL, World,
                      files_under, hub_cached_files, max_diff)

PIP_BUDGET_SECONDS = 240  # the venv's install, reported (a warning) when it takes longer
FORBIDDEN = re.compile(r"^(torch.*|tensorflow.*|tf-keras|tf-nightly.*|timm)$")
SOURCE_PACKAGES = {"keras_rexnet": "keras_rexnet", "converters": "keras_rexnet/converters",
                   "tflite": "keras_rexnet/tflite"}
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", ".pytest_cache", ".ruff_cache",
    "__pycache__", "artifacts", "*.pth", "*.weights.h5", "*.keras", "*.tflite", "*.onnx")
CONVERTING = re.compile(r"^Converting (\S+) to Keras, verifying it layer by layer$", re.M)
SUMMARY = re.compile(r"\((\w+)\), [0-9,]+ params, worst layer \S+ max abs \S+ "
                     r"\(logits ([0-9.eE+-]+)\)")


def _clean_env(**extra):
    """This process's environment without Python path settings (nothing from .venv leaks)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONNOUSERSITE="1", **extra)
    return env


def _pins(requirements):
    """``name==version`` constraints from requirements.txt's exact pins (extras dropped: a
    constraints file takes none)."""
    pins = {}
    for line in requirements.read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(3)
    return pins


def _base_python():
    """The interpreter .venv was made from (same version: its wheels fit)."""
    base = getattr(sys, "_base_executable", None)
    if base and pathlib.Path(base).is_file():
        return base
    found = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}")
    assert found, "no base interpreter to make a venv with"
    return found


@pytest.fixture(scope="module")
def no_torch_venv(tmp_path_factory):
    """A venv with ``pip install REPO[jax]`` (a copy of the repository), checked for the
    absence of torch, TensorFlow and timm and for the installed package's layout; removed
    afterwards."""
    folder = tmp_path_factory.mktemp("no_torch")
    src, venv = folder / "src", folder / "venv"
    shutil.copytree(ROOT, src, ignore=COPY_IGNORE)
    pins = _pins(ROOT / "requirements.txt")
    assert "jax" in pins and "keras" in pins, pins
    constraints = folder / "constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))

    subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True, env=_clean_env())
    python = venv / "bin" / "python"
    start = time.monotonic()
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-input",
                           "--disable-pip-version-check", "-c", str(constraints),
                           f"{src}[jax]"], capture_output=True, text=True, cwd=folder,
                          env=_clean_env(), timeout=1200, check=False)
    seconds = time.monotonic() - start
    print(f"\npip install {src.name}[jax] into a fresh venv: {seconds:.0f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    if seconds > PIP_BUDGET_SECONDS:
        warnings.warn(f"pip install of the no-torch venv took {seconds:.0f} s "
                      f"(budget {PIP_BUDGET_SECONDS} s)", stacklevel=1)

    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json",
                             "--disable-pip-version-check"], capture_output=True, text=True,
                            env=_clean_env(), check=True).stdout
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(listed)}
    assert not [n for n in installed if FORBIDDEN.match(n)], sorted(installed)
    for name in ("jax", "jaxlib", "keras"):
        want = pins.get(name, pins["jax"] if name == "jaxlib" else None)
        assert installed.get(name) == want, (name, installed.get(name), want)
    assert "keras-rexnet" in installed

    # The installed package is the sources, mapped: nothing missing, nothing extra.
    purelib = pathlib.Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, env=_clean_env(), check=True).stdout.strip())
    for folder_name, package in SOURCE_PACKAGES.items():
        want = sorted(p.name for p in (ROOT / folder_name).glob("*.py"))
        got = sorted(p.name for p in (purelib / package).glob("*.py"))
        assert got == want, (package, got, want)
    data = sorted(p.name for p in (ROOT / "keras_rexnet" / "data").glob("*.json"))
    assert "pretrained.json" in data
    assert sorted(p.name for p in (purelib / "keras_rexnet" / "data").glob("*.json")) == data
    yield {"python": python, "purelib": purelib, "pip_seconds": seconds}
    shutil.rmtree(folder, ignore_errors=True)  # ~750 MB; pytest keeps its last 3 tmp folders


@pytest.fixture
def venv_world(tmp_path, published, no_torch_venv):
    """The stand-ins, private caches, and clients run by the venv's Python on JAX."""
    w = World(tmp_path, published, python=str(no_torch_venv["python"]), backend="jax")
    yield w
    w.stop()


def _check_process(out, venv, converted):
    """The client ran the installed package from the venv on JAX, without torch."""
    process = out["_process"]
    print(f"  torch in the child's sys.modules: {'torch' in process['loaded']}; "
          f"loaded {process['loaded']}")
    assert "torch in sys.modules: False" in out["stdout"]
    assert not {"torch", "tensorflow", "timm"} & set(process["loaded"]), process
    assert process["installed"] == ["jax"], process  # find_spec: no torch, TF, timm at all
    assert process["backend"] == "jax" and "jax" in process["loaded"]
    assert pathlib.Path(process["executable"]).parent == venv["python"].parent
    for module, path in process["files"].items():
        if path is not None:
            assert pathlib.Path(path).is_relative_to(venv["purelib"]), (module, path)
    assert process["files"]["keras_rexnet"] is not None
    if converted:  # the conversion's verification ran: the NumPy oracle, from the wheel
        assert "keras_rexnet.converters.oracle" in process["loaded"], process
        assert process["files"]["keras_rexnet.converters"] is not None


def _timed(world, steps, label, **env):
    start = time.monotonic()
    out = world.run(steps, **env)
    print(f"  {label}: {time.monotonic() - start:.0f} s")
    return out


STEPS = [
    {"id": "v150", "builder": "ReXNetV1", "width": 1.5, "kwargs": {"weights": "imagenet"},
     "save": ["logits"]},
    {"id": "lite", "builder": "ReXNetV1Lite", "width": 1.0, "kwargs": {"weights": "imagenet"},
     "save": ["logits"]},
]


@pytest.mark.slow
def test_imagenet_weights_without_torch(venv_world, no_torch_venv, published):
    from safetensors.numpy import load_file

    from keras_rexnet.converters import oracle

    world, venv = venv_world, no_torch_venv
    # ReXNetV1 1.5's expected logits: the NumPy oracle on the very file the Hub serves.
    x = np.load(published["input"])
    v150_logits = oracle.predict(specs.spec_by_name("rexnet_150"), load_file(published["v150"]),
                                 "timm", x)

    # 1. A wrong pinned sha256 (Hub and Drive): one error line each, nothing in either cache.
    registry = world.tmp / "registry.json"
    registry.write_text(json.dumps({
        "rexnet_150": {"url": V150_URL, "sha256": "0" * 64},
        "rexnet_lite_100": {"url": LITE_DRIVE_URL, "filename": "rexnet_lite_1.0.pth",
                            "sha256": "1" * 64}}))
    refused = _timed(world, STEPS, "refusals (wrong sha256)", KERAS_REXNET_REGISTRY=str(registry))
    for step, url, pin in (("v150", V150_URL, "0" * 64), ("lite", LITE_DRIVE_URL, "1" * 64)):
        error = refused[step]
        assert isinstance(error, dict) and error["type"] == "PretrainedError", (step, error)
        assert f"{url}: sha256 mismatch: the registry pins {pin}" in error["message"], error
        assert "\n" not in error["message"]
    assert world.hub.hits[V150_GET] == 1 and world.drive.hits[("file", LITE_DRIVE_ID)] == 1
    assert files_under(world.cache) == [] and hub_cached_files(world.hf_home) == []
    _check_process(refused, venv, converted=False)

    # 2. The packaged registry: downloaded, converted and verified (no torch), the reference
    #    logits.
    first = _timed(world, STEPS, "download + convert + verify")
    assert max_diff(first["v150"]["logits"], v150_logits) <= 1e-4
    assert max_diff(first["lite"]["logits"], published["logits"]) <= 1e-4  # official vectors
    assert world.hub.hits[V150_GET] == 2 and world.drive.hits[("file", LITE_DRIVE_ID)] == 2
    assert world.hub.unexpected == [] and world.drive.refused == []
    stdout = first["stdout"]
    assert f"Downloading data from {V150_URL}" in stdout
    assert f"Downloading data from {LITE_DRIVE_URL}" in stdout
    sources = CONVERTING.findall(stdout)  # the Hub's file, then ours (Drive's, renamed)
    assert len(sources) == 2 and sources[0] == "model.safetensors", stdout
    assert sources[1].startswith("rexnet_lite_100") and sources[1].endswith(".pth"), stdout
    verified = SUMMARY.findall(stdout)  # the verification's report: layout, logits' max abs
    assert [layout for layout, _ in verified] == ["timm", "official_lite"], stdout
    assert max(float(logits) for _, logits in verified) <= 1e-4, stdout
    _check_process(first, venv, converted=True)
    files = files_under(world.cache)
    assert len([f for f in files if f.endswith(".weights.h5")]) == 2, files
    assert len([f for f in files if f.endswith(".pth")]) == 1, files
    assert any(f.endswith(f"/snapshots/{world.hub.commit(V150_REPO)}/model.safetensors")
               for f in hub_cached_files(world.hf_home))

    # 3. Servers stopped, offline: both from the cache, in a new process.
    world.stop()
    cached = _timed(world, STEPS, "offline from the cache", HF_HUB_OFFLINE="1")
    assert max_diff(cached["v150"]["logits"], first["v150"]["logits"]) <= 1e-6
    assert max_diff(cached["lite"]["logits"], first["lite"]["logits"]) <= 1e-6
    assert "Downloading" not in cached["stdout"] and "Converting" not in cached["stdout"]
    _check_process(cached, venv, converted=False)
    assert files_under(world.cache) == files
