"""Reading PyTorch checkpoints without running any code from them.

``.pth/.pt/.bin/.ckpt`` go through ``torch.load(weights_only=True)`` (PyTorch's
restricted unpickler: tensors and plain containers only, never a callable);
``.safetensors`` through ``safetensors`` (no torch needed). Wrappers written by
training code (``state_dict``, ``model``, ``model_ema`` ...) are unwrapped,
``module.`` prefixes stripped and ``num_batches_tracked`` dropped.
"""

import pathlib
import re

import numpy as np

from keras_rexnet.errors import CheckpointError

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
SAFETENSORS_SUFFIXES = (".safetensors",)
CHECKPOINT_SUFFIXES = TORCH_SUFFIXES + SAFETENSORS_SUFFIXES
WRAPPER_KEYS = ("state_dict", "model", "model_ema", "state_dict_ema", "module")


def _read_torch(path):
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        found = re.search(r"GLOBAL (\S+)|global:? (\S+)", text, flags=re.IGNORECASE)
        if found:  # the pickle names a callable or class: code we refuse to run
            what = (found.group(1) or found.group(2)).rstrip(".,")
            raise CheckpointError(
                path, f"refused: the file's pickle asks for {what}, which could run code; only "
                      "plain tensor checkpoints are loaded (nothing was executed)") from None
        detail = re.search(r"error:\s*\n*\s*(.+)", text)
        detail = detail.group(1).strip() if detail else text.strip().splitlines()[0]
        raise CheckpointError(path, f"corrupt, truncated or not a PyTorch checkpoint ({detail})") \
            from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(path, f"corrupt, truncated or not a PyTorch checkpoint ({msg})") \
            from None


def _read_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError:  # pragma: no cover - safetensors is a dependency of the convert extra
        raise CheckpointError(path, "reading .safetensors needs `pip install safetensors`") \
            from None
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own SafetensorError and others
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "bfloat16" in msg or "bf16" in msg.lower():
            return _read_safetensors_torch(path)
        raise CheckpointError(path, f"corrupt, truncated or not a safetensors file ({msg})") \
            from None


def _read_safetensors_torch(path):
    try:
        from safetensors.torch import load_file
    except ImportError:  # pragma: no cover
        raise CheckpointError(path, "bfloat16 safetensors need torch to read") from None
    return load_file(str(path))


def _to_numpy(path, key, value):
    if isinstance(value, np.ndarray):
        array = value
    elif type(value).__module__.startswith("torch"):
        import torch

        if not isinstance(value, torch.Tensor):
            raise CheckpointError(path, f"entry {key!r} is a {type(value).__name__}, not a tensor")
        array = value.detach().to(torch.float32 if value.is_floating_point() else value.dtype)
        array = array.cpu().numpy()
    else:
        raise CheckpointError(path, f"entry {key!r} is a {type(value).__name__}, not a tensor; "
                                    "not a model checkpoint")
    if array.dtype.kind == "f":
        array = array.astype(np.float32, copy=False)
    return array


def unwrap(path, obj):
    """Find the state dict inside training-code wrappers; strip ``module.`` prefixes."""
    for _ in range(4):
        if not isinstance(obj, dict):
            raise CheckpointError(path, f"holds a {type(obj).__name__}, not a state dict; "
                                        "not a model checkpoint")
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    out = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise CheckpointError(path, f"has a non-string key {key!r}; not a state dict")
        while key.startswith("module."):
            key = key[len("module."):]
        if key.endswith("num_batches_tracked"):
            continue
        out[key] = _to_numpy(path, key, value)
    if not out:
        raise CheckpointError(path, "holds no tensors; not a model checkpoint")
    return out


def read_state_dict(path):
    """``{key: float32 numpy array}`` of a checkpoint file; raises :class:`CheckpointError`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        raw = _read_safetensors(path)
    elif suffix in TORCH_SUFFIXES:
        raw = _read_torch(path)
    else:
        raise CheckpointError(path, f"unknown checkpoint type {suffix or '(no suffix)'!r}; "
                                    f"expected one of {', '.join(CHECKPOINT_SUFFIXES)}")
    state = unwrap(path, raw)
    for key, value in state.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise CheckpointError(path, f"tensor {key!r} contains NaN or inf values")
    return state
