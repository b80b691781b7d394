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


def pytest_report_header(config):
    return [f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND', 'tensorflow')}"]
