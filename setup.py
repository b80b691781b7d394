"""keras-rexnet's build: everything is declared in pyproject.toml ([project], [tool.setuptools]).

Layout: `keras_rexnet/` is the package; `converters/` and `tflite/` live at the top of the
repository and install as `keras_rexnet.converters` and `keras_rexnet.tflite` (never as top-level
modules): pyproject.toml's `[tool.setuptools] package-dir` maps them. The version is
`keras_rexnet/__init__.py`'s `__version__`, read without importing Keras. This file only lets
tools that still call `setup.py` work; `pip install .` and `pip install -e .` use pyproject.toml.
"""

from setuptools import setup

setup()
