import numpy as np
import pytest

import keras_rexnet
from keras_rexnet.imagenet import class_index


def test_class_index_ships_with_the_package():
    index = class_index()
    assert len(index) == 1000
    assert index[0][0] == "n01440764" and index[0][1].startswith("tench")
    assert len({s for s, _ in index}) == 1000


def test_decode_predictions():
    preds = np.zeros((2, 1000), "float32")
    preds[0, 1], preds[0, 0] = 0.9, 0.1
    preds[1, 999] = 1.0
    decoded = keras_rexnet.decode_predictions(preds, top=2)
    assert decoded[0] == [("n01443537", "goldfish", pytest.approx(0.9)),
                          ("n01440764", "tench", pytest.approx(0.1))]
    assert decoded[1][0][0] == class_index()[999][0]
    with pytest.raises(ValueError, match="shape"):
        keras_rexnet.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="top"):
        keras_rexnet.decode_predictions(preds, top=0)


def test_preprocess_input():
    x = np.array([[[[0, 127.5, 255]]]], "float32")
    out = keras_rexnet.preprocess_input(x)
    expected = (np.array([0, 0.5, 1.0]) - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(out[0, 0, 0], expected, rtol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="RGB"):
        keras_rexnet.preprocess_input(np.zeros((4, 4, 4)))
    # channels_first: the same numbers on the transposed array
    nhwc = np.random.default_rng(0).uniform(0, 255, (2, 5, 6, 3)).astype("float32")
    nchw = keras_rexnet.preprocess_input(nhwc.transpose(0, 3, 1, 2), "channels_first")
    np.testing.assert_array_equal(nchw.transpose(0, 2, 3, 1), keras_rexnet.preprocess_input(nhwc))
    with pytest.raises(ValueError, match="RGB"):
        keras_rexnet.preprocess_input(nhwc, data_format="channels_first")
    with pytest.raises(ValueError, match="data_format"):
        keras_rexnet.preprocess_input(nhwc, data_format="NHWC")


# (width, height) of the photos: portrait, landscape, square, odd sides; (size, crop_fraction)
# with floor(size / crop) != round(size / crop) and with odd margins to centre.
IMAGE_SIZES = [(500, 375), (375, 500), (300, 300), (641, 427), (97, 211)]
CROPS = [(224, 0.875), (224, 0.9), (224, 0.95), (64, 0.9), (97, 1.0)]


def _photo(w, h):
    from PIL import Image
    from sklearn.datasets import load_sample_images

    return Image.fromarray(load_sample_images().images[0]).resize((w, h), Image.BILINEAR)


@pytest.mark.parametrize("size,crop", CROPS, ids=[f"{s}-{c}" for s, c in CROPS])
def test_resize_and_crop_is_timms_eval_transform(size, crop):
    """To the pixel what timm's eval transform gives: scale floor(size / crop_pct), bicubic
    resize of the short side, CenterCrop(size)."""
    from timm.data.transforms_factory import transforms_imagenet_eval

    from keras_rexnet.imagenet import resize_and_crop

    timm = transforms_imagenet_eval(size, crop_pct=crop, interpolation="bicubic", normalize=False)
    for w, h in IMAGE_SIZES:
        img = _photo(w, h)
        ours = resize_and_crop(img, size, crop_fraction=crop)
        theirs = timm(img).numpy().transpose(1, 2, 0)  # uint8 CHW
        assert ours.shape == (size, size, 3) and ours.dtype == np.uint8
        assert np.array_equal(ours, theirs), (w, h)


def test_load_image_and_fit_image_use_the_same_transform(tmp_path):
    from keras_rexnet.imagenet import load_image, resize_and_crop
    from keras_rexnet.tflite.calibration import fit_image

    img = _photo(641, 427)
    img.save(tmp_path / "photo.png")
    want = resize_and_crop(img, 224)
    got = load_image(tmp_path / "photo.png")
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert np.array_equal(fit_image(np.asarray(img), 224), want)
    assert np.array_equal(fit_image(img, (224, 224), crop=0.875), want)
    assert fit_image(img, (100, 300), crop=1.0).shape == (100, 300, 3)
    # the rule by hand: 641x427 at 224 / 0.9 -> short side floor(248.9) = 248, long side
    # floor(641 * 248 / 427) = 372; margins 148 / 2 = 74 and 24 / 2 = 12
    from PIL import Image

    by_hand = np.asarray(img.resize((372, 248), Image.BICUBIC).crop((74, 12, 298, 236)))
    assert np.array_equal(resize_and_crop(img, 224, crop_fraction=0.9), by_hand)
    with pytest.raises(ValueError, match="crop_fraction"):
        resize_and_crop(img, 224, crop_fraction=1.5)
    with pytest.raises(ValueError, match="interpolation"):
        resize_and_crop(img, 224, interpolation="lanczos3")
