"""The paper's ImageNet training recipe on an ImageNet-style folder, with Keras.

Recipe (paper Section 5.1 and the official README): SGD with momentum 0.9, learning rate
0.5 for batch 512 scaled linearly with the batch size, cosine schedule with linear warm-up,
weight decay 1e-5 not applied to BatchNorm parameters and biases, label smoothing 0.1,
dropout 0.2, RandAugment (magnitude 9), random erasing (p = 0.2), 400 epochs.

Data: ``DATA/train/<class>/*.jpg`` and ``DATA/val/<class>/*.jpg`` read with tf.data
(``keras.utils.image_dataset_from_directory``; Keras' preprocessing layers run inside the
tf.data pipeline on every backend). Checkpoints: ``OUT/last.keras`` and ``OUT/state.json``
after every epoch; ``--resume`` continues from them (optimizer state included).

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


class _SaveState(keras.callbacks.Callback):
    def __init__(self, out):
        super().__init__()
        self.out = pathlib.Path(out)

    def on_epoch_end(self, epoch, logs=None):
        with atomic_path(self.out / "last.keras", ".keras") as tmp:
            self.model.save(tmp)
        atomic_write(self.out / "state.json", json.dumps(
            {"epoch": epoch + 1, "logs": {k: float(v) for k, v in (logs or {}).items()}}).encode())


def train(data, out, model_name="rexnet_100", epochs=400, batch_size=512, lr=None,
          warmup_epochs=5, weight_decay=1e-5, label_smoothing=0.1, dropout_rate=0.2,
          randaugment=9, random_erasing=0.2, image_size=224, steps_per_epoch=None,
          resume=False, distribute="auto", seed=0, verbose="auto"):
    """Train ``model_name`` from scratch with the paper's recipe; returns the Keras History."""
    from keras_rexnet.model import create_model

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
            model = keras.saving.load_model(out / "last.keras")
            initial_epoch = json.loads((out / "state.json").read_text())["epoch"]
        else:
            model = create_model(model_name, weights=None, classes=len(classes),
                                 input_shape=(image_size, image_size, 3),
                                 dropout_rate=dropout_rate)
            schedule = keras.optimizers.schedules.CosineDecay(
                initial_learning_rate=0.0, warmup_target=lr,
                warmup_steps=warmup_epochs * steps, decay_steps=max(1, (epochs - warmup_epochs)
                                                                     * steps))
            optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True,
                                             weight_decay=weight_decay)
            # no weight decay on BatchNorm parameters and biases
            optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
            model.compile(optimizer=optimizer,
                          loss=keras.losses.CategoricalCrossentropy(
                              label_smoothing=label_smoothing),
                          metrics=["accuracy"])
    (out / "classes.json").write_text(json.dumps(classes))
    print(f"training {model.name} on {len(classes)} classes, batch {batch_size} over "
          f"{replicas} device(s), lr {lr:g}, epochs {initial_epoch}->{epochs}", flush=True)
    return model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                     steps_per_epoch=steps_per_epoch, verbose=verbose,
                     callbacks=[_SaveState(out), keras.callbacks.CSVLogger(out / "log.csv",
                                                                           append=resume)])


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
    return parser


def run(args):
    history = train(args.data, args.output, model_name=args.model, epochs=args.epochs,
                    batch_size=args.batch_size, lr=args.lr, warmup_epochs=args.warmup_epochs,
                    weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
                    dropout_rate=args.dropout, randaugment=args.randaugment,
                    random_erasing=args.random_erasing, image_size=args.image_size,
                    steps_per_epoch=args.steps_per_epoch, resume=args.resume,
                    distribute=args.distribute, seed=args.seed, verbose=2)
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
