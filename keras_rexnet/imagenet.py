"""ImageNet preprocessing and decoding that work offline (the class index ships in the package)."""

import functools
import json
import pathlib

import numpy as np

from keras_rexnet.spec import IMAGENET_MEAN, IMAGENET_STD

_CLASS_INDEX = pathlib.Path(__file__).parent / "data" / "imagenet_class_index.json"


def preprocess_input(x, data_format=None):
    """RGB pixels in [0, 255] -> the normalized input of a model built with
    ``include_preprocessing=False``: ``(x / 255 - mean) / std`` per channel.

    ``data_format``: ``"channels_last"`` (``(..., height, width, 3)``) or ``"channels_first"``
    (``(..., 3, height, width)``); None: ``keras.config.image_data_format()``.
    Accepts a NumPy array or anything ``np.asarray`` takes; returns float32.
    The default models (``include_preprocessing=True``) do this themselves: feed them raw pixels.
    """
    if data_format is None:
        import keras

        data_format = keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    first = data_format == "channels_first"
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 3 or x.shape[-3 if first else -1] != 3:
        layout = "3, height, width" if first else "height, width, 3"
        raise ValueError(f"preprocess_input expects (..., {layout}) RGB ({data_format}), "
                         f"got {x.shape}")
    shape = (3, 1, 1) if first else (3,)
    mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(shape)
    std = np.asarray(IMAGENET_STD, np.float32).reshape(shape)
    return (x / np.float32(255.0) - mean) / std


@functools.lru_cache(maxsize=1)
def class_index():
    """``[(synset, names), ...]`` for the 1000 ImageNet-1k classes in model output order."""
    raw = json.loads(_CLASS_INDEX.read_text(encoding="utf-8"))
    return [tuple(raw[str(i)]) for i in range(len(raw))]


def decode_predictions(preds, top=5):
    """Decode ImageNet predictions, as ``keras.applications.*.decode_predictions``.

    Returns, per sample, a list of ``(synset, class_name, score)`` sorted by score,
    where ``class_name`` is the first WordNet lemma (``"tench"``).
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions "
                         f"(shape (samples, 1000)); got {preds.shape}")
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise ValueError(f"`top` must be an integer in [1, 1000], got {top!r}")
    index = class_index()
    results = []
    for row in preds:
        order = np.argsort(-row, kind="stable")[:top]
        results.append([(index[i][0], index[i][1].split(",")[0], float(row[i])) for i in order])
    return results


def resize_and_crop(image, size=224, crop_fraction=0.875, interpolation="bicubic"):
    """A PIL image as ImageNet evaluation sees it: uint8 RGB pixels ``(height, width, 3)``.

    timm's evaluation transform (``transforms_imagenet_eval``, ``crop_mode="center"``), with
    its rounding, to the pixel: the short side is resized to ``floor(size / crop_fraction)``
    (256 for 224 at 0.875; the long side in proportion, rounded down, as torchvision's
    ``Resize``), then the centre ``size`` x ``size`` is cut out (offsets
    ``round((resized - size) / 2)``, as torchvision's ``CenterCrop``). ``size`` may be
    ``(height, width)``: each side gets ``floor(side / crop_fraction)``, and the image is
    scaled (aspect ratio kept) to cover both, the other side rounded down. ``crop_fraction=1``
    resizes the short side to ``size`` itself. ``interpolation``: ``"bicubic"`` (timm's for
    ReXNet), ``"bilinear"`` or ``"nearest"``.
    """
    import math

    from PIL import Image

    h_out, w_out = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(h_out, w_out) < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction!r}")
    resample = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR,
                "nearest": Image.NEAREST}.get(interpolation)
    if resample is None:
        raise ValueError(f"interpolation must be 'bicubic', 'bilinear' or 'nearest', got "
                         f"{interpolation!r}")
    img = image.convert("RGB")
    w, h = img.size
    scale_h, scale_w = math.floor(h_out / crop_fraction), math.floor(w_out / crop_fraction)
    if scale_h * w >= scale_w * h:  # the height sets the scale
        new_h, new_w = scale_h, max(scale_w, w * scale_h // h)
    else:
        new_h, new_w = max(scale_h, h * scale_w // w), scale_w
    img = img.resize((new_w, new_h), resample)
    top, left = int(round((new_h - h_out) / 2)), int(round((new_w - w_out) / 2))
    return np.asarray(img.crop((left, top, left + w_out, top + h_out)), dtype=np.uint8)


def load_image(path, size=224, crop_fraction=0.875, interpolation="bicubic"):
    """An image file as the evaluation transform has it (:func:`resize_and_crop`: short side
    resized to ``floor(size / crop_fraction)``, centre crop ``size`` x ``size``); float32 RGB
    pixels in [0, 255].

    Raises ValueError (naming the file) for a missing, unreadable or non-image file.
    """
    from PIL import Image, UnidentifiedImageError

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            return resize_and_crop(img, size, crop_fraction, interpolation).astype(np.float32)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: not a readable image ({type(e).__name__})") from None
