"""Fixtures for the exporter tests: the seeded official ReXNet-lite 1.0, real-photo crops, and
exported files cached for the session (each conversion takes 10-20 s)."""

import functools
import warnings

import pytest

from helpers import official_state, save_pth

# Disjoint seeds: calibration crops are never the crops the checks run on.
CALIBRATION_SEED = 101
CHECK_SEED = 202


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tflite")


@pytest.fixture(scope="session")
def lite_ckpt(work_dir):
    """The seeded checkpoint behind the official vectors of rexnet_lite_1.0 (seed 1)."""
    return save_pth(official_state("rexnet_lite_1.0", 1), work_dir / "rexnet_lite_1.0_s1.pth")


@pytest.fixture(scope="session")
def lite_model(lite_ckpt):
    import keras_rexnet

    return keras_rexnet.ReXNetV1Lite(1.0, weights=str(lite_ckpt))


@pytest.fixture(scope="session")
def photos():
    """64 crops of real photographs (scikit-learn's and matplotlib's sample photos)."""
    from keras_rexnet.tflite import sample_photos

    return sample_photos(64, seed=CHECK_SEED)


@pytest.fixture(scope="session")
def calibration():
    from keras_rexnet.tflite import sample_photos

    return sample_photos(160, seed=CALIBRATION_SEED)


@pytest.fixture(scope="session")
def exported(work_dir, lite_model, calibration):
    """``exported(quantization)`` -> (path, [warnings]) of lite 1.0, exported once per session."""

    @functools.lru_cache(maxsize=None)
    def make(quantization):
        from keras_rexnet.tflite import export_tflite

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = export_tflite(lite_model, work_dir / f"lite_{quantization or 'float32'}.tflite",
                                 quantization=quantization,
                                 representative_data=calibration if quantization == "int8"
                                 else None)
        # the exporter's own warnings (UserWarning subclasses), not other libraries' deprecations
        return path, tuple(f"{w.category.__name__}: {w.message}" for w in caught
                           if issubclass(w.category, UserWarning))

    return make

