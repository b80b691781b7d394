"""Official and timm PyTorch checkpoints to Keras (installed as ``keras_rexnet.converters``).

Checkpoints are read without running code from them (``torch.load(weights_only=True)``
or ``safetensors``). torch is imported only by the functions that need it.
"""

from keras_rexnet.converters.checkpoint import read_state_dict
from keras_rexnet.converters.convert import (Detected, detect, load, load_checkpoint_into,
                                             load_state_into)
from keras_rexnet.errors import CheckpointError

__all__ = ["CheckpointError", "Detected", "detect", "load", "load_checkpoint_into",
           "load_state_into", "read_state_dict"]
