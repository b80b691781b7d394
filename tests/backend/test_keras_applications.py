"""Keras' own applications test suite, run on our three builders (a peer's tests, unchanged).

``keras/src/applications/applications_test.py`` ships inside the installed Keras. It is copied at
run time with its ``MODEL_LIST`` pointed at ``ReXNetV1`` (1280 features), ``ReXNetV1Lite`` (1280)
and ``ReXNetPlain`` (1024) and run with pytest in a subprocess on this process's backend: both
image data formats, 1- and 4-channel inputs, custom shapes and input tensors, pooling and the
classifier activation. ``test_application_base`` is left out, as for Keras' own models here: it
downloads the pretrained weights and a test image.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

import keras

MODEL_LIST = '''MODEL_LIST = [
    (keras_rexnet.ReXNetV1, 1280, keras_rexnet),
    (keras_rexnet.ReXNetV1Lite, 1280, keras_rexnet),
    (keras_rexnet.ReXNetPlain, 1024, keras_rexnet),
]
'''
CASES = 30  # 3 builders x 2 data formats x 5 tests (test_application_base left out)


def peer_suite(folder):
    """Keras' applications_test.py with our MODEL_LIST, written into ``folder``."""
    source = pathlib.Path(keras.__file__).parent / "src" / "applications" / "applications_test.py"
    text = source.read_text(encoding="utf-8")
    text, n = re.subn(r"^MODEL_LIST = \[\n.*?^\]\n", lambda _: MODEL_LIST, text,
                      flags=re.DOTALL | re.MULTILINE)
    assert n == 1, f"no MODEL_LIST in {source}"
    text = "import keras_rexnet\n" + text
    path = folder / "applications_test.py"
    path.write_text(text, encoding="utf-8")
    # Keras' own pytest configuration declares this marker; ours is not in the folder.
    (folder / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    requires_trainable_backend: Keras' marker\n", encoding="utf-8")
    return path


@pytest.mark.slow  # 27-31 s per backend on a quiet machine (36 models built), 1.5-2.5 min loaded
def test_keras_applications_suite_passes(tmp_path):
    path = peer_suite(tmp_path)
    env = dict(os.environ, KERAS_BACKEND=keras.config.backend())
    env.pop("SKIP_APPLICATIONS_TESTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider", "-rfEs",
         "-k", "not test_application_base", "--rootdir", str(tmp_path),
         "-c", str(tmp_path / "pytest.ini")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    out = result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    summary = lines[-1] if lines else ""
    assert result.returncode == 0, out[-6000:]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)",
                                                      summary)}
    assert counts == {"passed": CASES}, summary
