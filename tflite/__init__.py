"""TFLite and ONNX export (installed as ``keras_rexnet.tflite``).

``export_tflite`` writes float32, float16, dynamic-range or full-integer (uint8 in/out) files
with Android Task Library metadata; ``evaluate`` runs a file in LiteRT against the Keras model;
``check_android`` runs a file in MediaPipe Tasks' and the Task Library's ImageClassifier and
applies the Task Library's rules; ``android_report`` adds op versions, sizes and the GPU delegate
analysis; ``export_onnx`` writes ONNX.
All work from any Keras backend; TensorFlow is imported only by the functions that convert.
"""

from keras_rexnet.tflite.android import android_report, check_android
from keras_rexnet.tflite.calibration import (calibration_images, fit_image, sample_photo_files,
                                             sample_photos)
from keras_rexnet.tflite.evaluate import (Evaluation, evaluate, evaluate_onnx, latency,
                                          run_onnx, run_tflite)
from keras_rexnet.tflite.export import (AndroidCompatibilityWarning, QuantizationWarning,
                                        export_onnx, export_tflite, has_preprocessing,
                                        quantization_sensitive_layers)
from keras_rexnet.tflite.metadata import read_metadata, read_model

__all__ = [
    "AndroidCompatibilityWarning", "Evaluation", "android_report", "QuantizationWarning", "calibration_images",
    "check_android", "evaluate", "evaluate_onnx", "export_onnx", "export_tflite", "fit_image",
    "has_preprocessing", "latency", "quantization_sensitive_layers",
    "read_metadata", "read_model", "run_onnx", "run_tflite", "sample_photo_files",
    "sample_photos",
]
