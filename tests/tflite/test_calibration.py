"""Real images for calibration: folders of photos and the photos packages ship."""

import numpy as np
import pytest
from PIL import Image

from keras_rexnet import tflite
from keras_rexnet.tflite.calibration import pixel_batch


def test_sample_photos_are_real_photographs():
    files = tflite.sample_photo_files()
    assert {f.name for f in files} >= {"china.jpg", "flower.jpg"}
    x = tflite.sample_photos(24, size=(96, 128), seed=5)
    assert x.shape == (24, 96, 128, 3) and x.dtype == np.uint8
    assert np.array_equal(x, tflite.sample_photos(24, size=(96, 128), seed=5))  # deterministic
    assert not np.array_equal(x, tflite.sample_photos(24, size=(96, 128), seed=6))
    # photographs, not noise: neighbouring pixels are strongly correlated ...
    f = x.astype(np.float64)
    right = np.corrcoef(f[:, :, 1:].ravel(), f[:, :, :-1].ravel())[0, 1]
    assert right > 0.9
    noise = np.random.default_rng(0).integers(0, 256, x.shape).astype(np.float64)
    assert abs(np.corrcoef(noise[:, :, 1:].ravel(), noise[:, :, :-1].ravel())[0, 1]) < 0.05
    # ... and the crops differ from each other (many scales and places)
    flat = f.reshape(len(f), -1)
    assert len({tuple(np.round(r[:50])) for r in flat}) == len(flat)
    assert x.std() > 30


def _write_folder(folder, n):
    folder.mkdir()
    photos = tflite.sample_photos(n, size=(120, 160), seed=9)
    for i, p in enumerate(photos):
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        Image.fromarray(p).save(sub / f"img{i}.{'jpg' if i % 3 else 'png'}")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return photos


def test_calibration_images_from_a_folder(tmp_path):
    _write_folder(tmp_path / "cal", 7)
    x = tflite.calibration_images(tmp_path / "cal", n=100, size=(64, 64))
    assert x.shape == (7, 64, 64, 3) and x.dtype == np.uint8  # the broken file is skipped
    y = tflite.calibration_images(tmp_path / "cal", n=3, size=64)
    assert y.shape == (3, 64, 64, 3)
    # center crop of a 120x160 image to 64x64: the middle of the photo
    assert x.std() > 20


def test_calibration_images_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        tflite.calibration_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        tflite.calibration_images(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match="could be read"):
        tflite.calibration_images(tmp_path / "bad")
    with pytest.raises(ValueError, match="positive integer"):
        tflite.calibration_images(tmp_path / "bad", n=0)


def test_pixel_batch_accepts_arrays_iterables_and_folders(tmp_path):
    photos = tflite.sample_photos(5, size=(32, 32))
    a = pixel_batch(photos, (32, 32))
    assert a.shape == (5, 32, 32, 3) and a.dtype == np.float32
    assert np.array_equal(pixel_batch(iter(photos), (32, 32)), a)
    assert np.array_equal(pixel_batch([[p[None]] for p in photos], (32, 32)), a)  # TF style
    assert np.array_equal(pixel_batch(photos[0], (32, 32)), a[:1])
    _write_folder(tmp_path / "cal", 4)
    assert pixel_batch(str(tmp_path / "cal"), (40, 48)).shape == (4, 40, 48, 3)
