"""The paper's ImageNet training recipe on an ImageNet-style folder, with Keras.

Recipe (paper Section 5.1 and the official README): SGD with momentum 0.9, learning rate
0.5 for batch 512 scaled linearly with the batch size, cosine schedule with linear warm-up,
weight decay 1e-5 not applied to BatchNorm parameters and biases, label smoothing 0.1,
dropout 0.2, RandAugment (magnitude 9), random erasing (p = 0.2), 400 epochs. Optional:
stochastic depth (``--drop-path RATE``) and an exponential moving average of the weights
(``--ema DECAY``: Keras' ``use_ema``; validation and the checkpoints use the averaged weights).

Data: ``DATA/train/<class>/*.jpg`` and ``DATA/val/<class>/*.jpg`` read with tf.data
(``keras.utils.image_dataset_from_directory``; Keras' preprocessing layers run inside the
tf.data pipeline on every backend). Checkpoints: ``OUT/last.keras`` and ``OUT/state.json``
after every epoch; ``--resume`` continues from them (optimizer state included). With ``--ema``
the model in ``last.keras`` holds the averaged weights and the optimizer's average slots hold
the trained ones (the two swapped, as ``keras.callbacks.SwapEMAWeights`` does);
``state.json`` says so and ``--resume`` swaps them back before training on.

Data parallel: ``keras.distribution.DataParallel`` on JAX (all local devices;
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` makes two CPU devices),
``tf.distribute.MirroredStrategy`` on TensorFlow, one device on torch.

    python scripts/train_imagenet.py DATA -o OUT --model rexnet_100 [--epochs 400]
"""

import argparse
import contextlib
import json
import math
import pathlib

import keras

from keras_rexnet.files import atomic_path, atomic_write

BASE_LR, BASE_BATCH = 0.5, 512


def _datasets(data, image_size, batch_size, randaugment, erasing, seed):
    import tensorflow as tf  # tf.data only; the model runs on any Keras backend

    data = pathlib.Path(data)
    for split in ("train", "val"):
        if not (data / split).is_dir():
            raise ValueError(f"{data / split}: missing; expected DATA/train/<class>/ and "
                             "DATA/val/<class>/ folders of images")
    resize = int(math.ceil(image_size / 0.875))
    train = keras.utils.image_dataset_from_directory(
        data / "train", label_mode="categorical", image_size=(resize, resize),
        batch_size=None, shuffle=True, seed=seed, crop_to_aspect_ratio=True)
    classes = train.class_names
    val = keras.utils.image_dataset_from_directory(
        data / "val", label_mode="categorical", image_size=(resize, resize), batch_size=None,
        shuffle=False, crop_to_aspect_ratio=True, class_names=classes)
    crop = keras.layers.RandomCrop(image_size, image_size, seed=seed)
    flip = keras.layers.RandomFlip("horizontal", seed=seed)
    augment = [crop, flip]
    if randaugment:
        augment.append(keras.layers.RandAugment(value_range=(0, 255), num_ops=2,
                                                factor=randaugment / 10.0, seed=seed))
    if erasing:
        augment.append(keras.layers.RandomErasing(factor=erasing, value_range=(0, 255),
                                                  seed=seed))
    center = keras.layers.CenterCrop(image_size, image_size)

    def train_map(x, y):
        for layer in augment:
            x = layer(x, training=True)
        return x, y

    train = (train.shuffle(1024, seed=seed).batch(batch_size, drop_remainder=True)
             .map(train_map, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    val = val.batch(batch_size).map(lambda x, y: (center(x), y)).prefetch(tf.data.AUTOTUNE)
    return train, val, classes


def _distribution(mode):
    """A context for model building and compiling; sets Keras' distribution on JAX."""
    backend = keras.config.backend()
    if mode == "none":
        return contextlib.nullcontext(), 1
    if backend == "jax":
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return contextlib.nullcontext(), len(devices)
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        return strategy.scope(), strategy.num_replicas_in_sync
    if mode == "data_parallel":
        raise ValueError("data-parallel training needs the JAX or TensorFlow backend")
    return contextlib.nullcontext(), 1


def _ema_pairs(optimizer):
    """``[(model variable, its moving average)]`` of an optimizer built with ``use_ema=True``
    (the inner optimizer of a ``LossScaleOptimizer`` included); ``[]`` without EMA."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not getattr(inner, "use_ema", False) or not getattr(inner, "built", False):
        return []
    return list(zip(inner._trainable_variables, inner._model_variables_moving_average))


def swap_ema_weights(model):
    """Swap ``model``'s trainable weights with its optimizer's moving averages, in place
    (``keras.callbacks.SwapEMAWeights``' swap): a second call undoes the first."""
    for var, average in _ema_pairs(model.optimizer):
        trained = keras.ops.convert_to_numpy(var)
        var.assign(keras.ops.convert_to_numpy(average))
        average.assign(trained)


class _SaveState(keras.callbacks.Callback):
    """Saves ``last.keras`` and ``state.json`` after every epoch; with EMA the saved model holds
    the averaged weights (the trained ones wait in the optimizer's average slots)."""

    def __init__(self, out, ema=None, drop_path_rate=0.0):
        super().__init__()
        self.out = pathlib.Path(out)
        self.ema, self.drop_path_rate = ema, drop_path_rate

    def on_epoch_end(self, epoch, logs=None):
        swapped = bool(_ema_pairs(self.model.optimizer))
        if swapped:
            swap_ema_weights(self.model)
        try:
            with atomic_path(self.out / "last.keras", ".keras") as tmp:
                self.model.save(tmp)
        finally:
            if swapped:
                swap_ema_weights(self.model)
        atomic_write(self.out / "state.json", json.dumps(
            {"epoch": epoch + 1, "logs": {k: float(v) for k, v in (logs or {}).items()},
             "ema": self.ema, "ema_in_model": swapped,
             "drop_path_rate": self.drop_path_rate}).encode())


def train(data, out, model_name="rexnet_100", epochs=400, batch_size=512, lr=None,
          warmup_epochs=5, weight_decay=1e-5, label_smoothing=0.1, dropout_rate=0.2,
          randaugment=9, random_erasing=0.2, image_size=224, steps_per_epoch=None,
          resume=False, distribute="auto", seed=0, verbose="auto", ema=None, drop_path_rate=0.0):
    """Train ``model_name`` from scratch with the paper's recipe; returns the Keras History.

    ``ema``: decay of an exponential moving average of the weights (e.g. 0.9999; None: off),
    which validation and the saved checkpoints use; ``drop_path_rate``: stochastic depth.
    """
    from keras_rexnet.model import create_model

    if ema is not None and not (isinstance(ema, (int, float)) and 0 < ema < 1):
        raise ValueError(f"--ema must be a decay in (0, 1), e.g. 0.9999; got {ema!r}")
    if not (isinstance(drop_path_rate, (int, float)) and 0 <= drop_path_rate < 1):
        raise ValueError(f"--drop-path must be a rate in [0, 1); got {drop_path_rate!r}")
    ema = float(ema) if ema is not None else None
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    scope, replicas = _distribution(distribute)
    train_ds, val_ds, classes = _datasets(data, image_size, batch_size, randaugment,
                                          random_erasing, seed)
    steps = steps_per_epoch or int(train_ds.cardinality())
    if steps < 1:
        raise ValueError(f"fewer training images than one batch of {batch_size}")
    lr = lr if lr is not None else BASE_LR * batch_size / BASE_BATCH
    initial_epoch = 0
    with scope:
        if resume and (out / "last.keras").is_file():
            state = json.loads((out / "state.json").read_text())
            for key, flag, value in (("ema", "--ema", ema),
                                     ("drop_path_rate", "--drop-path", drop_path_rate)):
                saved = state.get(key, None if key == "ema" else 0.0)
                if saved != value:
                    raise ValueError(f"{out / 'state.json'}: the run was started with {flag} "
                                     f"{saved}; resume it with the same value (got {value})")
            model = keras.saving.load_model(out / "last.keras")
            initial_epoch = state["epoch"]
            if state.get("ema_in_model"):  # the saved model holds the averages: swap back
                swap_ema_weights(model)
        else:
            model = create_model(model_name, weights=None, classes=len(classes),
                                 input_shape=(image_size, image_size, 3),
                                 dropout_rate=dropout_rate, drop_path_rate=drop_path_rate)
            schedule = keras.optimizers.schedules.CosineDecay(
                initial_learning_rate=0.0, warmup_target=lr,
                warmup_steps=warmup_epochs * steps, decay_steps=max(1, (epochs - warmup_epochs)
                                                                     * steps))
            optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True,
                                             weight_decay=weight_decay, use_ema=ema is not None,
                                             ema_momentum=0.99 if ema is None else ema)
            # no weight decay on BatchNorm parameters and biases
            optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
            model.compile(optimizer=optimizer,
                          loss=keras.losses.CategoricalCrossentropy(
                              label_smoothing=label_smoothing),
                          metrics=["accuracy"])
    (out / "classes.json").write_text(json.dumps(classes))
    print(f"training {model.name} on {len(classes)} classes, batch {batch_size} over "
          f"{replicas} device(s), lr {lr:g}, epochs {initial_epoch}->{epochs}"
          + (f", EMA {ema:g}" if ema is not None else "")
          + (f", drop path {drop_path_rate:g}" if drop_path_rate else ""), flush=True)
    # validation runs on the averaged weights (SwapEMAWeights swaps them in for evaluation)
    callbacks = [keras.callbacks.SwapEMAWeights()] if ema is not None else []
    callbacks += [_SaveState(out, ema, drop_path_rate),
                  keras.callbacks.CSVLogger(out / "log.csv", append=resume)]
    return model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                     steps_per_epoch=steps_per_epoch, verbose=verbose, callbacks=callbacks)


def build_parser(parser=None):
    parser = parser or argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="folder with train/<class>/ and val/<class>/ images")
    parser.add_argument("-o", "--output", required=True, help="checkpoint folder")
    parser.add_argument("--model", default="rexnet_100")
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=None,
                        help="default: 0.5 * batch / 512 (the paper's rule)")
    parser.add_argument("--warmup-epochs", type=int, default=5)
    parser.add_argument("--weight-decay", type=float, default=1e-5)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--randaugment", type=float, default=9, help="magnitude (0 = off)")
    parser.add_argument("--random-erasing", type=float, default=0.2, help="probability")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--distribute", choices=["auto", "none", "data_parallel"],
                        default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ema", type=float, default=None, metavar="DECAY",
                        help="keep an exponential moving average of the weights with this decay "
                             "(e.g. 0.9999); validation and the checkpoints use it")
    parser.add_argument("--drop-path", type=float, default=0.0, metavar="RATE",
                        help="stochastic depth rate of the last block (rising linearly from 0)")
    return parser


def run(args):
    history = train(args.data, args.output, model_name=args.model, epochs=args.epochs,
                    batch_size=args.batch_size, lr=args.lr, warmup_epochs=args.warmup_epochs,
                    weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
                    dropout_rate=args.dropout, randaugment=args.randaugment,
                    random_erasing=args.random_erasing, image_size=args.image_size,
                    steps_per_epoch=args.steps_per_epoch, resume=args.resume,
                    distribute=args.distribute, seed=args.seed, verbose=2, ema=args.ema,
                    drop_path_rate=args.drop_path)
    last = {k: round(v[-1], 4) for k, v in history.history.items()}
    print(json.dumps({"epochs": len(history.epoch), "last": last}))
    return 0


def main(argv=None):
    import sys

    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ValueError as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
