"""Run a ``.tflite`` file in the TFLite Task Library's ImageClassifier (tflite-support 0.4.4).

A standalone script, run by :mod:`keras_rexnet.tflite.runtimes` with the Python of the Task
Library's own venv (tflite-support needs protobuf 3.20, which TensorFlow 2.21 refuses, so it
cannot share ``.venv``). It imports nothing from keras_rexnet. Reads a JSON job on stdin
(``model``, ``images``: file paths, ``max_results``) and writes one JSON line on stdout:
``{"ok": true, "results": [[[index, name, score], ...] per image]}`` or
``{"ok": false, "error": "the runtime's own message"}``.
"""

import json
import sys


def main():
    job = json.loads(sys.stdin.read())
    try:
        from tflite_support.task import core, processor, vision
    except ImportError as e:
        print(json.dumps({"ok": False, "error": f"tflite_support.task is not importable: {e}"}))
        return 0
    try:
        options = vision.ImageClassifierOptions(
            base_options=core.BaseOptions(file_name=job["model"]),
            classification_options=processor.ClassificationOptions(
                max_results=job.get("max_results", 1000)))
        classifier = vision.ImageClassifier.create_from_options(options)
    except Exception as e:  # the runtime's refusal, in its own words
        print(json.dumps({"ok": False, "error": " ".join(str(e).split())}))
        return 0
    results = []
    for path in job.get("images", []):
        image = vision.TensorImage.create_from_file(path)
        heads = classifier.classify(image).classifications
        results.append([[c.index, c.category_name, c.score] for c in heads[0].categories])
    print(json.dumps({"ok": True, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
