"""Run a ``.tflite`` file in MediaPipe Tasks' ImageClassifier; the same JSON protocol as
``_task_library.py`` (a job on stdin, one JSON line on stdout).

:mod:`keras_rexnet.tflite.runtimes` calls :func:`classify` directly in a process that has
TensorFlow loaded already, and runs this file as a script otherwise, with TensorFlow blocked:
MediaPipe imports it when it is installed (only for its documentation decorators), and checking
a file must not load TensorFlow into a JAX or PyTorch session.
"""

import json
import sys


def classify(model, images, max_results=1000):
    """``(None, [[(index, name, score), ...] per image])`` or ``(error text, None)``."""
    import mediapipe as mp
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import image_classifier

    options = image_classifier.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(model)), max_results=max_results)
    try:
        classifier = image_classifier.ImageClassifier.create_from_options(options)
    except Exception as e:  # the runtime's refusal, in its own words
        return " ".join(str(e).split()), None
    results = []
    with classifier:
        for path in images:
            result = classifier.classify(mp.Image.create_from_file(str(path)))
            results.append([(c.index, c.category_name, c.score)
                            for c in result.classifications[0].categories])
    return None, results


def main():
    sys.modules["tensorflow"] = None  # ModuleNotFoundError for MediaPipe's optional import
    job = json.loads(sys.stdin.read())
    try:
        error, results = classify(job["model"], job.get("images", []),
                                  job.get("max_results", 1000))
    except ImportError as e:
        print(json.dumps({"ok": False, "error": f"mediapipe is not importable: {e}"}))
        return 0
    print(json.dumps({"ok": error is None, "error": error, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
