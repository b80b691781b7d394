"""Official and timm PyTorch checkpoints to Keras (installed as ``keras_rexnet.converters``).

Checkpoints are read without running code from them and without torch
(:mod:`~keras_rexnet.converters.torchfile` for ``torch.save`` files, ``safetensors``), and every
conversion is verified against a NumPy forward pass (:mod:`~keras_rexnet.converters.oracle`).
"""

from keras_rexnet.converters.checkpoint import read_state_dict
from keras_rexnet.converters.convert import (Detected, detect, load, load_checkpoint_into,
                                             load_state_into)
from keras_rexnet.errors import CheckpointError

__all__ = ["CheckpointError", "Detected", "detect", "load", "load_checkpoint_into",
           "load_state_into", "read_state_dict"]
