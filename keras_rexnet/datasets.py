"""Small real image data sets that need no network, for demos, tests and notebooks."""

import numpy as np


def digits(size=32, test_fraction=0.2, seed=0):
    """scikit-learn's bundled handwritten digits (1,797 8x8 scans), as RGB images.

    Upscaled to ``size`` x ``size`` (nearest neighbour, then a light blur-free resize)
    and scaled to [0, 255], split into a stratified held-out test set.
    Returns ``(x_train, y_train), (x_test, y_test)`` with uint8 images (N, size, size, 3).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    data = load_digits()
    images = data.images.astype(np.float32) * (255.0 / 16.0)  # 0..16 -> 0..255
    idx = (np.arange(size) * 8 // size)
    images = images[:, idx][:, :, idx]
    rgb = np.repeat(images[..., None], 3, axis=-1).round().astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        rgb, data.target, test_size=test_fraction, random_state=seed, stratify=data.target)
    return (x_train, y_train.astype(np.int32)), (x_test, y_test.astype(np.int32))


def sample_photos():
    """The real photographs scikit-learn ships (``china.jpg``, ``flower.jpg``), RGB uint8."""
    from sklearn.datasets import load_sample_images

    return list(load_sample_images().images)
