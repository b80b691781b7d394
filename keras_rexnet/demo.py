"""`make demo`: the main job end to end, with a closing summary table.

1. convert  an official-layout ReXNet-lite 1.0 checkpoint to Keras, verified layer by layer
            against PyTorch: the real file when ``REXNET_CHECKPOINT=/path`` is given (or the
            real download succeeds), otherwise a seeded one -- the output says which;
2. transfer fine-tune ReXNet-lite on scikit-learn's handwritten digits (real scans, no
            network) with ``model.fit`` and report held-out accuracy;
3. export   int8 TFLite (uint8 in/out, Task Library metadata) of the fine-tuned model, its
            accuracy in LiteRT beside the Keras float accuracy, and an ONNX file;
4. classify the converted ImageNet model, exported to int8 TFLite, run on a real photograph
            (scikit-learn's sample photo), top-5 printed.

Environment: ``KERAS_REXNET_ARTIFACTS`` (default ``artifacts/``), ``REXNET_CHECKPOINT``,
``DEMO_EPOCHS`` (full fine-tuning epochs, default 6).
"""

import os
import pathlib
import time


def _banner(text):
    print(f"\n=== {text}", flush=True)


def _checkpoint(out):
    """(path, description) of the checkpoint to convert."""
    given = os.environ.get("REXNET_CHECKPOINT")
    if given:
        return pathlib.Path(given), f"the real checkpoint given by REXNET_CHECKPOINT={given}"
    try:
        from keras_rexnet import pretrained

        pretrained.fetch_weights("rexnet_lite_100")  # download, verify, convert, cache
        path = pretrained.cached_source("rexnet_lite_100")
        return path, f"the real official checkpoint, downloaded to {path}"
    except Exception as e:  # offline, or no such helper: say so and use a seeded file
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
    from keras_rexnet import spec as specs
    from keras_rexnet.converters.seeded import save_checkpoint, seeded_state

    path = save_checkpoint(seeded_state(specs.spec_by_name("rexnet_lite_100"), "official_lite",
                                        seed=1), out / "rexnet_lite_1.0_seeded.pth")
    return path, ("a SEEDED checkpoint in the official layout (random weights, seed 1): the real "
                  f"file could not be had ({reason})")


def main():
    import keras
    import numpy as np

    from keras_rexnet import datasets, tflite, transfer
    from keras_rexnet.converters.cli import convert
    from keras_rexnet.imagenet import decode_predictions, load_image
    from keras_rexnet.model import create_model

    start = time.time()
    out = pathlib.Path(os.environ.get("KERAS_REXNET_ARTIFACTS", "artifacts")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    rows = []

    _banner(f"1/4 convert (Keras backend: {keras.config.backend()})")
    t = time.time()
    ckpt, what = _checkpoint(out)
    print(f"using {what}")
    weights = out / "rexnet_lite_100.weights.h5"
    result = convert(ckpt, weights, report_path=out / "convert_report.json")
    print(result.report.table())
    rows.append(("convert", f"{result.model}: logits max |diff| vs PyTorch "
                            f"{result.report.logits.max_abs:.1e}", time.time() - t, weights))

    _banner("2/4 transfer learning on handwritten digits (model.fit)")
    t = time.time()
    (xt, yt), (xv, yv) = datasets.digits(32)
    model, backbone = transfer.build_classifier("rexnet_lite_100", 10, input_shape=(32, 32, 3),
                                                weights=str(weights))
    epochs = int(os.environ.get("DEMO_EPOCHS", "6"))
    transfer.fine_tune(model, backbone, (xt, yt), (xv, yv), head_epochs=1, full_epochs=epochs,
                       full_learning_rate=3e-4, verbose=1)
    _, float_acc = model.evaluate(xv, yv, verbose=0)
    keras_file = out / "digits_rexnet_lite.keras"
    model.save(keras_file)
    print(f"held-out accuracy (Keras float): {100 * float_acc:.1f}% on {len(xv)} digits")
    rows.append(("transfer", f"held-out accuracy {100 * float_acc:.1f}% "
                             f"({len(xt)} train / {len(xv)} test)", time.time() - t, keras_file))

    _banner("3/4 export: int8 TFLite with metadata, and ONNX")
    t = time.time()
    digits_tflite = tflite.export_tflite(model, out / "digits_rexnet_lite_int8.tflite",
                                         quantization="int8", representative_data=xt[:300],
                                         labels=[str(i) for i in range(10)])
    ev = tflite.evaluate(digits_tflite, xv, reference_model=model, labels=yv, threads=(2,))
    print(ev.summary())
    onnx_file = tflite.export_onnx(model, out / "digits_rexnet_lite.onnx")
    ev_onnx = tflite.evaluate_onnx(onnx_file, xv[:64], reference_model=model, threads=())
    print(f"ONNX: max |diff| vs Keras {ev_onnx.max_abs_diff:.1e} on 64 digits")
    rows.append(("export", f"int8 accuracy {100 * ev.top1_accuracy:.1f}% vs float "
                           f"{100 * float_acc:.1f}%, {ev.size_bytes / 1e6:.1f} MB; ONNX max "
                           f"|diff| {ev_onnx.max_abs_diff:.0e}", time.time() - t, digits_tflite))

    _banner("4/4 classify a real photograph with the int8 ImageNet model")
    t = time.time()
    imagenet = create_model("rexnet_lite_100", weights=str(weights), input_shape=(224, 224, 3))
    calibration = tflite.sample_photos(64, 224)
    net_tflite = tflite.export_tflite(imagenet, out / "rexnet_lite_100_int8.tflite",
                                      quantization="int8", representative_data=calibration)
    photo_file = tflite.sample_photo_files()[0]
    probs = tflite.run_tflite(net_tflite, load_image(photo_file, 224)[None])
    top5 = decode_predictions(np.asarray(probs, "float32").reshape(1, -1), top=5)[0]
    print(f"{photo_file}:")
    for rank, (synset, name, score) in enumerate(top5, 1):
        print(f"  {rank}. {name:<28} {synset}  {score:.3f}")
    if "SEEDED" in what:
        print("(seeded random weights: these classes are not meaningful; give REXNET_CHECKPOINT "
              "for real predictions)")
    rows.append(("classify", f"top-1 '{top5[0][1]}' ({top5[0][2]:.2f}) on "
                             f"{pathlib.Path(photo_file).name}", time.time() - t, net_tflite))

    _banner("summary")
    width = max(len(r[1]) for r in rows)
    print(f"{'step':<9} {'result':<{width}} {'seconds':>8}  artifact")
    for step, result_text, seconds, artifact in rows:
        print(f"{step:<9} {result_text:<{width}} {seconds:8.0f}  {pathlib.Path(artifact).name}")
    print(f"checkpoint: {what}")
    print(f"demo finished in {time.time() - start:.0f} s; artifacts are in {out}")


if __name__ == "__main__":
    main()
