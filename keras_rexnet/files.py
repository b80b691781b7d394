"""File helpers used across the package: checkpoint suffixes and atomic writes.

One place for each: every module that names a checkpoint suffix or writes a file that must
never be seen half-written uses these.
"""

import contextlib
import os
import pathlib
import secrets

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
SAFETENSORS_SUFFIXES = (".safetensors",)
CHECKPOINT_SUFFIXES = TORCH_SUFFIXES + SAFETENSORS_SUFFIXES
KERAS_WEIGHTS_SUFFIX = ".weights.h5"


def is_checkpoint(path):
    """True when ``path`` names a PyTorch or safetensors checkpoint (by its suffix)."""
    return str(path).lower().endswith(CHECKPOINT_SUFFIXES)


def temporary_sibling(path, suffix=""):
    """A hidden, unique name beside ``path`` (same folder, so a rename is atomic).

    ``suffix`` keeps an ending that a writer insists on (Keras wants ``.weights.h5``)."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}")


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary sibling of ``path`` to write; rename it onto ``path`` when the block
    ends without an error, delete it otherwise. Nothing half-written is ever at ``path``.

        with atomic_path(out, ".weights.h5") as tmp:
            model.save_weights(tmp)
    """
    path = pathlib.Path(path)
    tmp = temporary_sibling(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        pathlib.Path(tmp).write_bytes(data)
    return pathlib.Path(path)
