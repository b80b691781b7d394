"""ImageNet weights (weights="imagenet")."""

from keras_rexnet.errors import CheckpointError


def load_imagenet(model, spec, model_name, include_top=True):
    raise CheckpointError(
        None, f"weights='imagenet' is not available yet for {model_name}; download the "
              "official checkpoint and pass weights='/path/to/file.pth'")
