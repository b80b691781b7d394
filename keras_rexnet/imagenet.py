"""ImageNet preprocessing and decoding that work offline (the class index ships in the package)."""

import functools
import json
import pathlib

import numpy as np

from keras_rexnet.spec import IMAGENET_MEAN, IMAGENET_STD

_CLASS_INDEX = pathlib.Path(__file__).parent / "data" / "imagenet_class_index.json"


def preprocess_input(x, data_format=None):
    """RGB pixels in [0, 255] -> the normalized input of a model built with
    ``include_preprocessing=False``: ``(x / 255 - mean) / std`` per channel (channels last).

    Accepts a NumPy array or anything ``np.asarray`` takes; returns float32.
    The default models (``include_preprocessing=True``) do this themselves: feed them raw pixels.
    """
    if data_format not in (None, "channels_last"):
        raise ValueError("keras_rexnet supports channels_last only")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 3 or x.shape[-1] != 3:
        raise ValueError(f"preprocess_input expects (..., height, width, 3) RGB, got {x.shape}")
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
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


def load_image(path, size=224, crop_fraction=0.875, interpolation="bicubic"):
    """An image file as the evaluation transform has it: RGB, short side resized to
    ``size / crop_fraction``, center crop ``size`` x ``size``; float32 pixels in [0, 255].

    Raises ValueError (naming the file) for a missing, unreadable or non-image file.
    """
    import pathlib

    from PIL import Image, UnidentifiedImageError

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            resample = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR,
                        "nearest": Image.NEAREST}[interpolation]
            scale = int(round(size / crop_fraction))
            w, h = img.size
            if w <= h:
                nw, nh = scale, max(size, int(round(h * scale / w)))
            else:
                nw, nh = max(size, int(round(w * scale / h))), scale
            img = img.resize((nw, nh), resample)
            left, top = (nw - size) // 2, (nh - size) // 2
            img = img.crop((left, top, left + size, top + size))
            return np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: not a readable image ({type(e).__name__})") from None
