"""The NumPy oracle: it must reproduce the official code's vectors and timm before it may judge.

The converter verifies every conversion against :mod:`keras_rexnet.converters.oracle` (no torch);
here the oracle itself is held to the two independent PyTorch implementations: the official
code's stored outputs (``tests/data/vectors``) and timm's ``rexnet_*``/``rexnetr_*`` models.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers import OFFICIAL, VECTORS, family_layout, official_state, seeded_state
from keras_rexnet import spec as specs
from keras_rexnet.converters import oracle
from keras_rexnet.model import block_output_name

VECTOR_FILES = sorted(VECTORS.glob("*.npz"))


def test_vectors_exist():
    assert len(VECTOR_FILES) >= 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_oracle_reproduces_official_vectors(path, dtype):
    v = np.load(path)
    name = str(v["manifest"])
    family, width = OFFICIAL[name]
    # the official checkpoint's every key (num_batches_tracked included): none may be left over
    state = official_state(name, int(v["weight_seed"]))
    out = oracle.intermediates(specs.spec_for(family, width), state, family_layout(family),
                               v["input_nchw"].transpose(0, 2, 3, 1), dtype=dtype)
    # The vectors were computed on another CPU: float32 summation order differs with the kernels
    # PyTorch picks there (1.1e-5 seen on one CI machine for logits near 1.6).
    np.testing.assert_allclose(out["predictions"], v["logits"], rtol=0, atol=3e-5)
    np.testing.assert_allclose(out["avg_pool"], v["pooled"], rtol=0, atol=3e-5)
    assert out["predictions"].dtype == dtype


def _timm_intermediates(model, spec, x_nchw):
    """timm's own modules, run one by one: ``{Keras layer name: NHWC/(N, C) array}``."""
    import torch

    out, n = {}, len(spec.blocks)
    with torch.no_grad():
        h = model.stem(torch.from_numpy(np.ascontiguousarray(x_nchw)))
        out["stem_act"] = h
        for i, block in enumerate(spec.blocks):
            h = model.features[i](h)
            out[block_output_name(block)] = h
        h = model.features[n](h)
        out["head_act"] = h
        out["avg_pool"] = h.mean(dim=(2, 3))
        out["predictions"] = model.head.fc(out["avg_pool"])
        logits = model(torch.from_numpy(np.ascontiguousarray(x_nchw)))
    out = {k: (v.permute(0, 2, 3, 1) if v.ndim == 4 else v).numpy() for k, v in out.items()}
    return out, logits.numpy()


@pytest.fixture
def torch_one_thread():
    """PyTorch on one thread: its two-thread pool on a shared 2-core machine runs these small
    inputs ten times slower when another process holds a core."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _check_against_timm(spec, model, size, seed=3, batch=2):
    import torch

    state = seeded_state(spec, "timm", seed=seed)
    model = model.eval()
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()},
                                                strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    x = np.random.default_rng(0).standard_normal((batch, *size, 3)).astype("float32")
    theirs, logits = _timm_intermediates(model, spec, x.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(theirs["predictions"], logits)  # the module walk is timm's model
    ours = oracle.intermediates(spec, state, "timm", x)
    assert list(ours) == list(theirs)
    for layer, b in theirs.items():
        a = ours[layer]
        assert a.shape == b.shape, layer
        # Relative to the layer's scale, as the converter's report does (timm computes in
        # float32, the oracle in float64; the worst seen is about 2e-6).
        scale = max(1.0, float(np.abs(b).max()))
        assert np.abs(a - b).max() <= 1e-5 * scale, layer


@pytest.mark.parametrize("name", ["rexnet_100", "rexnet_130", "rexnetr_100", "rexnetr_300"])
def test_oracle_agrees_with_timm(name, torch_one_thread):
    """timm's independent implementation, random weights and BN statistics, every layer, on an
    odd non-square input (strided layers pad k // 2 on every side, as PyTorch does)."""
    import timm

    _check_against_timm(specs.spec_by_name(name), timm.create_model(name, pretrained=False),
                        (97, 75))


# Every width timm publishes and the official-only ones (timm's RexNet class takes any width),
# plus unpublished widths; sizes from the smallest allowed to 224.
TIMM_CASES = [(1.5, 1, (224, 224)), (2.0, 1, (33, 47)), (3.0, 1, (65, 64)), (0.9, 1, (32, 32)),
              (2.2, 1, (50, 97)), (0.75, 1, (97, 75)), (1.1, 1, (45, 67)),
              (1.3, 8, (224, 224)), (1.5, 8, (33, 47)), (2.0, 8, (65, 64)), (1.2, 8, (38, 51))]


@pytest.mark.slow
@pytest.mark.parametrize("width,ch_div,size", TIMM_CASES,
                         ids=[f"w{w:g}-div{d}-{h}x{w2}" for w, d, (h, w2) in TIMM_CASES])
def test_oracle_agrees_with_timm_at_any_width(width, ch_div, size, torch_one_thread):
    from timm.models.rexnet import RexNet

    _check_against_timm(specs.rexnet_v1(width, ch_div=ch_div),
                        RexNet(width_mult=width, ch_div=ch_div), size, seed=11, batch=1)


def test_oracle_refuses_a_state_that_does_not_fit():
    spec = specs.rexnet_lite(1.0)
    state = seeded_state(spec, "official_lite")
    x = np.zeros((1, 32, 32, 3), np.float32)
    with pytest.raises(ValueError, match=r"missing 1 tensors \(features.0.weight\)"):
        oracle.intermediates(spec, {k: v for k, v in state.items() if k != "features.0.weight"},
                             "official_lite", x)
    with pytest.raises(ValueError, match="1 unexpected tensors"):
        oracle.intermediates(spec, dict(state, extra=np.zeros(3, np.float32)), "official_lite", x)
    wrong = dict(state, **{"features.1.weight": np.ones(17, np.float32)})
    with pytest.raises(ValueError, match=r"wrong shape \(features.1.weight \(17,\)"):
        oracle.intermediates(spec, wrong, "official_lite", x)
    with pytest.raises(ValueError, match="NHWC batch with 3 channels"):
        oracle.intermediates(spec, state, "official_lite", x.transpose(0, 3, 1, 2))


def test_verify_catches_a_converter_transpose(monkeypatch):
    """The oracle reads the PyTorch shapes itself, so a converter that transposes the depthwise
    kernels' rows and columns fails verification at the first block instead of being copied."""
    from keras_rexnet.converters import layouts
    from keras_rexnet.converters.convert import load_state_into
    from keras_rexnet.converters.verify import verify_model
    from keras_rexnet.model import build_from_spec

    spec = specs.rexnet_lite(1.0)
    state = seeded_state(spec, "official_lite")
    model = build_from_spec(spec, weights=None, kernel_initializer="zeros")
    right = layouts.Entry.to_keras

    def transposed(entry, arrays):
        values = right(entry, arrays)
        if entry.kind == "dwconv":
            values[0] = np.ascontiguousarray(values[0].transpose(1, 0, 2, 3))
        return values

    monkeypatch.setattr(layouts.Entry, "to_keras", transposed)
    load_state_into(model, spec, state)
    report = verify_model(model, spec, state, "official_lite", input_size=(40, 36))
    # the stem (no depthwise conv) still agrees; block 0, the first depthwise conv, does not
    assert report.layers[0].name == "stem_act" and report.layers[0].ok, report.table()
    assert not report.passed and report.first_failure == block_output_name(spec.blocks[0])


def test_verify_imports_no_torch(tmp_path):
    """`keras-rexnet convert` verifies a .safetensors checkpoint on JAX with torch unimportable."""
    from keras_rexnet.converters.seeded import save_checkpoint

    # the lite model: the fewest layers, so the quickest build and compile on JAX
    ckpt = save_checkpoint(seeded_state(specs.rexnet_lite(1.0), "official_lite", seed=4),
                           tmp_path / "rexnet_lite_100.safetensors")
    out, report = tmp_path / "m.weights.h5", tmp_path / "report.json"
    # torch is made unimportable by a meta path finder that records every attempt. (Setting
    # `sys.modules["torch"] = None` cannot be used: `import keras` imports scipy.stats through its
    # scikit-learn wrapper, and scipy looks torch up in sys.modules and fails on a None entry.)
    script = textwrap.dedent(f"""
        import sys

        class NoTorch:
            attempts = []

            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    self.attempts.append(name)
                    raise ImportError(f"torch is not installed here ({{name}})")
                return None

        sys.meta_path.insert(0, NoTorch())
        from keras_rexnet.cli import main

        code = main(["convert", {str(ckpt)!r}, "-o", {str(out)!r}, "--report", {str(report)!r},
                     "--input-size", "64", "48"])
        import keras

        assert keras.config.backend() == "jax", keras.config.backend()
        leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not leaked and not NoTorch.attempts, (leaked, NoTorch.attempts)
        try:  # the blocker works: the check above could fail
            import torch  # noqa: F401
        except ImportError:
            pass
        assert NoTorch.attempts == ["torch"], NoTorch.attempts
        print("NO_TORCH_OK", code)
    """)
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "NO_TORCH_OK 0" in proc.stdout
    data = json.loads(report.read_text())
    assert data["passed"] and data["layout"] == "official_lite"
    assert data["model"] == "rexnet_lite_100"
    assert [d["name"] for d in data["layers"]][-3:] == ["head_act", "avg_pool", "predictions"]
    assert out.exists()
