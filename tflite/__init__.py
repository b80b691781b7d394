"""TFLite and ONNX export (installed as ``keras_rexnet.tflite``)."""
