"""Real images for calibration and checks: folders of photographs, and the photos packages ship.

Everything here returns RGB pixels in [0, 255] as ``uint8`` arrays of shape ``(n, H, W, 3)``:
what the exported files take (``uint8`` for int8 models; the same values as float32 otherwise).
"""

import os
import pathlib

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
DEFAULT_SIZE = (224, 224)


def _size(size):
    if size is None:
        return DEFAULT_SIZE
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width), got {size!r}")
    return size


def fit_image(image, size=DEFAULT_SIZE, crop=0.875):
    """Resize and center-crop one RGB image (a PIL image or an ``(H, W, 3)`` array) as ImageNet
    evaluation does: :func:`keras_rexnet.imagenet.resize_and_crop` with bicubic filtering, the
    shorter side resized to ``floor(size / crop)`` (256 for 224) and the center ``size`` cut
    out; ``crop=1`` resizes the whole image (aspect ratio kept, center cut). Returns uint8.
    """
    from PIL import Image

    from keras_rexnet.imagenet import resize_and_crop

    img = image if isinstance(image, Image.Image) else Image.fromarray(_as_uint8_rgb(image))
    return resize_and_crop(img, _size(size), crop_fraction=crop)


def _as_uint8_rgb(a):
    a = np.asarray(a)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {a.shape}")
    return np.clip(np.round(a), 0, 255).astype(np.uint8) if a.dtype != np.uint8 else a


def list_images(folder):
    """Image files in ``folder`` and its subfolders, sorted by path."""
    folder = pathlib.Path(os.fspath(folder))
    if not folder.is_dir():
        raise ValueError(f"calibration folder {str(folder)!r} does not exist or is not a folder")
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def calibration_images(folder, n=300, size=DEFAULT_SIZE, seed=0):
    """Up to ``n`` images from ``folder`` (recursively), resized and center-cropped to ``size``.

    Returns ``uint8`` RGB pixels ``(k, H, W, 3)``, ``k = min(n, readable images)``. When the
    folder holds more than ``n`` images a seeded random subset is taken; files that cannot be
    read as images are skipped. Calibrate with a few hundred of your own images, as the app
    will see them: the int8 ranges come from them.
    Raises ``ValueError`` when the folder is missing or holds no readable image.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    size = _size(size)
    files = list_images(folder)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r}")
    if len(files) > n:  # a seeded random subset, in path order; unreadable files replaced
        order = np.random.default_rng(seed).permutation(len(files))
        files = [files[i] for i in order]
    out, bad = [], []
    for f in files:
        if len(out) == n:
            break
        try:
            with Image.open(f) as img:
                out.append((f, fit_image(img, size)))
        except (UnidentifiedImageError, OSError):
            bad.append(f.name)
    out = [img for _, img in sorted(out, key=lambda item: item[0])]
    if not out:
        raise ValueError(f"none of the {len(files)} image files in {str(folder)!r} could be "
                         f"read (first: {bad[0]})")
    return np.stack(out)


def sample_photo_files():
    """Photographs that installed packages ship: scikit-learn's china.jpg and flower.jpg, and
    matplotlib's grace_hopper.jpg when matplotlib is installed."""
    files = []
    try:
        import sklearn.datasets

        images = pathlib.Path(sklearn.datasets.__file__).parent / "images"
        files += [images / "china.jpg", images / "flower.jpg"]
    except ImportError:
        pass
    try:
        import matplotlib

        files.append(pathlib.Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    except ImportError:
        pass
    files = [f for f in files if f.is_file()]
    if not files:
        raise ValueError("no sample photographs found: install scikit-learn (its sample images) "
                         "or pass your own images")
    return files


def sample_photos(n=64, size=DEFAULT_SIZE, seed=0):
    """``n`` crops of real photographs (see :func:`sample_photo_files`), ``uint8 (n, H, W, 3)``.

    Crops vary in scale (25-100% of the shorter side), position, aspect ratio (3:4 to 4:3)
    and mirroring, and are resized to ``size`` with bicubic filtering. The same ``seed``
    always gives the same crops. These are for checks and demos: for calibrating a model you
    ship, use a few hundred images of your own (:func:`calibration_images`).
    """
    from PIL import Image

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    h_out, w_out = _size(size)
    photos = []
    for f in sample_photo_files():
        with Image.open(f) as img:
            photos.append(img.convert("RGB"))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        photo = photos[i % len(photos)]
        w, h = photo.size
        side = rng.uniform(0.25, 1.0) * min(w, h)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = int(min(w, max(8, side * np.sqrt(aspect))))
        ch = int(min(h, max(8, side / np.sqrt(aspect))))
        x = int(rng.integers(0, w - cw + 1))
        y = int(rng.integers(0, h - ch + 1))
        crop = photo.crop((x, y, x + cw, y + ch)).resize((w_out, h_out), Image.BICUBIC)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out.append(np.asarray(crop, dtype=np.uint8))
    return np.stack(out)


def pixel_batch(data, size, what="representative_data"):
    """Validate RGB pixels in [0, 255] and stack them as float32 ``(n, H, W, 3)``.

    ``data``: an array ``(n, H, W, 3)`` (or one image ``(H, W, 3)``), an iterable of images or
    batches, or a folder path (read with :func:`calibration_images`). Raises ``ValueError``
    naming the problem: missing, empty, wrong shape, not finite, or not in pixel range.
    """
    h, w = _size(size)
    if data is None:
        raise ValueError(f"{what} is missing")
    if isinstance(data, (str, os.PathLike)):
        data = calibration_images(data, size=(h, w))
    if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
        arrays = [np.asarray(data)]
    else:
        try:
            items = list(data)
        except TypeError:
            raise ValueError(f"{what} must be an array of RGB images (n, {h}, {w}, 3), an "
                             f"iterable of such images or a folder; got {type(data).__name__}"
                             ) from None
        arrays = []
        for i, item in enumerate(items):
            if isinstance(item, (list, tuple)) and len(item) == 1:
                item = item[0]  # the TFLite converter's [input] convention
            a = np.asarray(item)
            if a.dtype == object:
                raise ValueError(f"{what}[{i}] is not an image array (give images, not "
                                 "(image, label) pairs)")
            arrays.append(a)
    if not arrays or all(a.size == 0 for a in arrays):
        raise ValueError(f"{what} is empty: give at least one RGB image ({h}x{w}x3)")
    batch = []
    for a in arrays:
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or tuple(a.shape[1:]) != (h, w, 3):
            raise ValueError(f"{what} has shape {tuple(a.shape)}; expected RGB images "
                             f"(n, {h}, {w}, 3) at the export size (resize or crop them, e.g. "
                             "with keras_rexnet.tflite.calibration_images)")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"{what} has dtype {a.dtype}; expected numbers (RGB pixels)")
        batch.append(a.astype(np.float32))
    x = np.concatenate(batch)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255:
        raise ValueError(f"{what} ranges over [{lo:.3g}, {hi:.3g}]; expected raw RGB pixels in "
                         "[0, 255] (not normalized: the exported model normalizes itself)")
    if hi <= 1.0:
        raise ValueError(f"{what} ranges over [{lo:.3g}, {hi:.3g}]: looks scaled to [0, 1]; "
                         "give raw RGB pixels in [0, 255]")
    return x
