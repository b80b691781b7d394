"""Reading PyTorch checkpoints without running any code from them.

``.pth/.pt/.bin/.ckpt`` go through :mod:`keras_rexnet.converters.torchfile`, this
project's reader of ``torch.save`` files (NumPy only, no torch; its restricted unpickler
builds tensors and plain containers and refuses anything else, calling nothing from the
file); ``.safetensors`` through ``safetensors``. Wrappers written by
training code (``state_dict``, ``model``, ``model_ema`` ...) are unwrapped,
``module.`` prefixes stripped and ``num_batches_tracked`` dropped.
"""

import pathlib

import numpy as np

from keras_rexnet.converters import torchfile
from keras_rexnet.errors import CheckpointError
from keras_rexnet.files import CHECKPOINT_SUFFIXES, SAFETENSORS_SUFFIXES, TORCH_SUFFIXES

WRAPPER_KEYS = ("state_dict", "model", "model_ema", "state_dict_ema", "module")


def _read_torch(path):
    return torchfile.load(path)


def _read_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError:  # pragma: no cover - safetensors is a core dependency
        raise CheckpointError(path, "reading .safetensors needs `pip install safetensors`") \
            from None
    try:
        state = load_file(str(path))
    except Exception as e:  # safetensors raises its own SafetensorError and others
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "bfloat16" in msg or "bf16" in msg.lower():
            return _read_safetensors_bfloat16(path)
        raise CheckpointError(path, f"corrupt, truncated or not a safetensors file ({msg})") \
            from None
    # half precision (bfloat16 where ml_dtypes is installed) as the same values in float32
    return {k: v.astype(np.float32) if v.dtype.name in ("float16", "bfloat16") else v
            for k, v in state.items()}


# safetensors dtype -> NumPy (little-endian); bfloat16 is read as its raw 16 bits.
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
                       "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def _read_safetensors_bfloat16(path):
    """A safetensors file holding bfloat16 (which ``safetensors.numpy`` cannot return), read
    with NumPy: bfloat16 values are the upper halves of float32, so they load exactly."""
    import json

    data = pathlib.Path(path).read_bytes()
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        header.pop("__metadata__", None)
        out = {}
        for key, info in header.items():
            dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]])
            begin, end = info["data_offsets"]
            count = int(np.prod(info["shape"], dtype=np.int64))
            if end - begin != count * dtype.itemsize or 8 + n + end > len(data):
                raise ValueError(f"tensor {key!r} does not fit the file")
            array = np.frombuffer(data, dtype, count, 8 + n + begin).reshape(info["shape"])
            if info["dtype"] == "BF16":
                array = (array.astype(np.uint32) << 16).view(np.float32)
            out[key] = array.copy()
        return out
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(path, f"corrupt, truncated or not a safetensors file ({e})") \
            from None


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
