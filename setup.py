"""keras-rexnet: ReXNet for Keras 3 (TensorFlow, JAX, PyTorch backends).

`converters/` and `tflite/` live at the top of the repository and install as
`keras_rexnet.converters` and `keras_rexnet.tflite` (never as top-level modules).
"""
import pathlib
import re

from setuptools import setup

here = pathlib.Path(__file__).parent
version = re.search(r'__version__ = "([^"]+)"',
                    (here / "keras_rexnet" / "__init__.py").read_text()).group(1)

TF = ["tensorflow-cpu==2.21.0"]
JAX = ["jax[cpu]==0.10.2"]
TORCH = ["torch==2.14.1"]
CONVERT = ["torch==2.14.1", "torchvision==0.29.1", "timm", "safetensors"]
# tflite-support pins protobuf<4: install it with `pip install --no-deps tflite-support==0.4.4`
# (scripts/install.sh does); it is listed here for completeness of the extra.
TFLITE = TF + ["ai-edge-litert", "tf2onnx", "onnx", "onnxruntime", "pillow", "scikit-learn"]
DEV = ["pytest", "scikit-learn", "matplotlib", "pillow", "nbclient", "nbformat", "ipykernel",
       "ruff"]

setup(
    name="keras-rexnet",
    version=version,
    description="ReXNet (Rethinking Channel Dimensions for Efficient Model Design) for Keras 3",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=["keras_rexnet", "keras_rexnet.converters", "keras_rexnet.tflite"],
    package_dir={"keras_rexnet": "keras_rexnet",
                 "keras_rexnet.converters": "converters",
                 "keras_rexnet.tflite": "tflite"},
    package_data={"keras_rexnet": ["data/*.json"]},
    install_requires=["keras>=3.10", "numpy", "h5py"],
    extras_require={
        "tf": TF, "jax": JAX, "torch": TORCH, "convert": CONVERT, "tflite": TFLITE,
        "dev": DEV, "all": sorted(set(TF + JAX + CONVERT + TFLITE + DEV)),
    },
    entry_points={"console_scripts": ["keras-rexnet=keras_rexnet.cli:main"]},
)
