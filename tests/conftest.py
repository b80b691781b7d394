import os
import pathlib
import sys

# Make tests/helpers.py importable as `helpers` (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# JAX compiles every new shape (random initializers included); keep the compiled
# programs between test processes and runs.
_cache = pathlib.Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_cache))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from helpers import SHARED  # noqa: E402


def pytest_report_header(config):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return [f"KERAS_BACKEND={backend}", f"shared: {SHARED}"]


@pytest.fixture(scope="session", autouse=True)
def _shared_present():
    if not (SHARED / "reference" / "ARCHITECTURE.md").is_file():
        pytest.exit(f"../shared is missing ({SHARED}); the reference vectors live there", 2)
