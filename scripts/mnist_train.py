"""Train the classic Keras MNIST CNN and report its validation error to smac-bridge.

The optimiser sees only the error on a validation split of the training images; the error on
the untouched test set is reported beside it (as `test_error`), so the search cannot overfit
the test set. Infeasible architectures and failed trainings end as UNSAT with the reason, a
SIGTERM (the cutoff) reports the validation error reached so far, and the model is saved to
the run's artifacts folder (`mnist_model.keras`, for `keras.models.load_model`). During each epoch
a progress line goes to stderr every 100 batches or 15 s, so `smac-bridge tail --follow`
shows a living run rather than minutes of silence.

    python scripts/mnist_train.py --nb_filters 32 --nb_conv_size 3 --epochs 1 --train_size 5000
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from mnist_data import Mnist, load_mnist, shuffled

from smac_bridge.errors import InputError
from smac_bridge.reporting import report

NUM_CLASSES = 10
STOP_CHUNK = 100
"""Validation images evaluated at a time after a stop: a few seconds for the largest model."""
STOP_RESERVE = 5.0
"""Seconds of the grace a stopped run keeps for saving its model and exiting."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = parser.add_argument_group("hyper-parameters (the search space of pcs/mnist.pcs)")
    model.add_argument(
        "--nb_filters", type=int, default=32, help="kernels per convolution (default: %(default)s)"
    )
    model.add_argument(
        "--nb_conv_size", type=int, default=3, help="convolution kernel size (default: %(default)s)"
    )
    model.add_argument(
        "--nb_pool", type=int, default=2, help="max-pooling size (default: %(default)s)"
    )
    model.add_argument(
        "--dropout1", type=float, default=0.25, help="dropout after pooling (default: %(default)s)"
    )
    model.add_argument(
        "--dropout2", type=float, default=0.5, help="dropout after dense 128 (default: %(default)s)"
    )
    run = parser.add_argument_group("the run")
    run.add_argument(
        "--epochs", type=int, default=12, help="epochs to train (default: %(default)s)"
    )
    run.add_argument(
        "--batch_size", type=int, default=128, help="images per batch (default: %(default)s)"
    )
    run.add_argument(
        "--train_size", type=int, default=None, help="train on N images (default: all the others)"
    )
    run.add_argument(
        "--validation_size",
        type=int,
        default=None,
        help="hold out N training images for the validation error SMAC sees "
        "(default: 10000, a sixth of a smaller file, or train_size/5 when --train_size is"
        " given)",
    )
    run.add_argument(
        "--test_size", type=int, default=None, help="test on N test images (default: all)"
    )
    run.add_argument("--data", default=None, help="mnist.npz or mnist.pkl.gz (default: search)")
    run.add_argument(
        "--artifacts",
        default=None,
        help="where to save the model (default: $SMAC_BRIDGE_ARTIFACTS, else ./artifacts)",
    )
    run.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed; a negative one (SMAC's -1) means 0 (default: %(default)s)",
    )
    run.add_argument(
        "--progress_batches",
        type=int,
        default=100,
        help="print a progress line (stderr) every N batches, and after an epoch's first batch"
        " (default: %(default)s)",
    )
    run.add_argument(
        "--progress_seconds",
        type=float,
        default=15.0,
        help="... or when this many seconds have passed since the last one (default: %(default)s)",
    )
    return parser.parse_args(argv)


def feature_map_sizes(image_size: int, conv_size: int, pool: int) -> list[int]:
    """Side lengths after each layer: two 'valid' convolutions, then a max-pooling."""
    after_conv1 = image_size - conv_size + 1
    after_conv2 = after_conv1 - conv_size + 1
    return [after_conv1, after_conv2, after_conv2 // pool if pool > 0 else 0]


def infeasibility(args: argparse.Namespace, image_size: int) -> str | None:
    """Why this configuration cannot be built on `image_size` images, or None if it can."""
    for name in ("nb_filters", "nb_conv_size", "nb_pool", "epochs", "batch_size"):
        if getattr(args, name) < 1:
            return f"--{name} must be at least 1, got {getattr(args, name)}"
    for name in ("dropout1", "dropout2"):
        if not 0 <= getattr(args, name) < 1:
            return f"--{name} must be in [0, 1), got {getattr(args, name)}"
    conv1, conv2, pooled = feature_map_sizes(image_size, args.nb_conv_size, args.nb_pool)
    if min(conv1, conv2, pooled) < 1:
        return (
            f"infeasible architecture: on {image_size}x{image_size} images two {args.nb_conv_size}"
            f"x{args.nb_conv_size} convolutions leave {max(conv2, 0)}x{max(conv2, 0)} and a "
            f"{args.nb_pool}x{args.nb_pool} max-pooling leaves {max(pooled, 0)}x{max(pooled, 0)}"
        )
    return None


def split(
    x: np.ndarray, y: np.ndarray, train_size: int | None, validation_size: int | None
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Train on the first images of one fixed shuffle, validate on its last ones: the same
    split for every configuration, and both parts represent the whole set (`shuffled`)."""
    sizes = {"train_size": train_size, "validation_size": validation_size}
    given = " and ".join(f"--{name} {value}" for name, value in sizes.items() if value is not None)
    if validation_size is None:  # MNIST's 10000 of 60000; a smaller file of one's own: a sixth
        validation_size = min(10_000, len(x) // 6) if train_size is None else train_size // 5
        validation_size = max(1, validation_size)
        given += f"{' (' if given else ''}a validation size of {validation_size} by default"
        given += ")" if train_size is not None else ""
    available = len(x) - validation_size
    train_size = available if train_size is None else train_size
    if validation_size < 1 or train_size < 1 or train_size > available:
        raise InputError(
            None,
            None,
            f"{given or 'the default split'}: expected at least 1 image to train"
            f" on and 1 to validate on, together at most the {len(x)} training images",
        )
    x, y = shuffled(x, y)
    return (x[:train_size], y[:train_size]), (x[-validation_size:], y[-validation_size:])


def pick_test_images(data: Mnist, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """SIZE test images (all by default) of one fixed shuffle (`shuffled`)."""
    available = len(data.x_test)
    if size is not None and not 1 <= size <= available:  # a slice would quietly take fewer
        raise InputError(
            None, None, f"--test_size {size}: expected 1 to the {available} test images"
        )
    x_test, y_test = shuffled(data.x_test, data.y_test)
    return x_test[:size], y_test[:size]


def count_errors(model: Any, x: np.ndarray, y: np.ndarray) -> int:
    """Number of misclassified images; x is uint8 (N, H, W)."""
    predictions = model.predict(as_input(x), batch_size=256, verbose=0)
    return int(np.sum(np.argmax(predictions, axis=1) != y))


def as_input(x: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) images to the float (N, H, W, 1) the network takes."""
    return (x.astype("float32") / 255.0)[..., np.newaxis]


def build_model(args: argparse.Namespace, image_size: int) -> Any:
    """The classic Keras MNIST CNN, with Adadelta(lr=1.0) as in the Keras 1 example."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((image_size, image_size, 1)),
            layers.Conv2D(args.nb_filters, args.nb_conv_size, activation="relu"),
            layers.Conv2D(args.nb_filters, args.nb_conv_size, activation="relu"),
            layers.MaxPooling2D(args.nb_pool),
            layers.Dropout(args.dropout1),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(args.dropout2),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def artifacts_dir(args: argparse.Namespace) -> Path:
    folder = Path(args.artifacts or os.environ.get("SMAC_BRIDGE_ARTIFACTS") or "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_model(model: Any, folder: Path) -> None:
    """The whole model in Keras 3's own file: `keras.models.load_model` reads it."""
    model.save(folder / "mnist_model.keras")


def train(args: argparse.Namespace) -> int:
    data = load_mnist(args.data)
    image_size = data.x_train.shape[1]
    why = infeasibility(args, image_size)
    if why is not None:
        print(why, file=sys.stderr)
        report(None, "UNSAT", reason=why)
        return 0
    (x_train, y_train), (x_val, y_val) = split(
        data.x_train, data.y_train, args.train_size, args.validation_size
    )
    x_test, y_test = pick_test_images(data, args.test_size)
    print(
        f"data: {data.source}; train {len(x_train)}, validation {len(x_val)}, test {len(x_test)}",
        file=sys.stderr,
    )

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from smac_bridge.keras_callbacks import Checkpoint, PrintProgress, ReportOnSigterm

    keras.utils.set_random_seed(max(args.seed, 0))
    model = build_model(args, image_size)
    shaping = ("nb_filters", "nb_conv_size", "nb_pool", "dropout1", "dropout2", "batch_size")
    trained_on = ("train_size", "validation_size")
    shapes = {name: getattr(args, name) for name in shaping + trained_on}
    # the data by name and size, not path: a promotion may run on another host of a cluster
    shapes["data"] = f"{data.source.name}, {len(data.x_train)} training images"
    checkpoint = Checkpoint(artifacts_dir(args), shapes)
    # a promoted or re-run trial continues after these epochs
    done = checkpoint.restore(model, args.epochs)
    if done:
        earlier = os.environ["SMAC_BRIDGE_RESUME_FROM"]
        print(f"continuing after epoch {done}, from the checkpoint in {earlier}", file=sys.stderr)
        # the continued epochs' shuffles and dropout draws are not the first epochs' again
        keras.utils.set_random_seed(max(args.seed, 0) + done)
    on_sigterm = ReportOnSigterm(
        lambda m: validation_error(m, x_val, y_val, on_sigterm), restore_on_train_end=False
    )
    try:
        history = model.fit(
            as_input(x_train),
            y_train,
            batch_size=args.batch_size,
            epochs=args.epochs,
            initial_epoch=min(done, args.epochs),
            verbose=2,
            callbacks=[
                keras.callbacks.TerminateOnNaN(),
                PrintProgress(args.progress_batches, args.progress_seconds),
                on_sigterm,
                checkpoint,
            ],
        )
        losses = history.history.get("loss", [])
        if not all(math.isfinite(loss) for loss in losses):
            why = f"training diverged: the loss became {losses[-1]} in epoch {len(losses)}"
            print(why, file=sys.stderr)
            report(None, "UNSAT", reason=why)
            return 0
        save_model(model, artifacts_dir(args))
        if on_sigterm.reported:
            return 0
        val_error = count_errors(model, x_val, y_val) / len(x_val)
        test_error = test_error_unless_stopped(model, x_test, y_test, on_sigterm)
    finally:
        on_sigterm.restore_handlers()
    if test_error is None:
        # Stopped during the test evaluation: the validation error is complete, test_error is not.
        report(
            val_error,
            "TIMEOUT",  # stopped: no final result, whatever Keras printed last
            partial=True,
            reason="stopped during the test evaluation",
            epochs_done=done + len(losses),
            epochs_trained=len(losses),
        )
    else:
        trained = {"epochs_done": done + len(losses), "epochs_trained": len(losses)}
        report(val_error, test_error=test_error, **trained)
    return 0


def validation_error(model: Any, x: np.ndarray, y: np.ndarray, on_sigterm: Any) -> float:
    """The error on the validation images; once stopped, on those evaluated within the grace.

    A large model on a CPU can take minutes to evaluate them all, and a run still evaluating
    when the wrapper's grace ends is killed with no quality at all. Chunk by chunk, the
    evaluation stops when the next chunk would leave less than STOP_RESERVE seconds of the
    grace for saving the model and exiting (one chunk at least); how many images it saw goes
    into the report.
    """
    if not on_sigterm.stop_requested:
        return count_errors(model, x, y) / len(x)
    wrong = seen = 0
    longest = 0.0  # the slowest chunk so far, a guess at the next one
    for start in range(0, len(x), STOP_CHUNK):
        if seen and on_sigterm.grace_left() - longest < STOP_RESERVE:
            break
        began, chunk = time.monotonic(), slice(start, start + STOP_CHUNK)
        wrong += count_errors(model, x[chunk], y[chunk])
        seen += len(x[chunk])
        longest = max(longest, time.monotonic() - began)
    on_sigterm.extra["validation_images"] = seen  # reported beside the partial quality
    return wrong / seen


def test_error_unless_stopped(
    model: Any, x: np.ndarray, y: np.ndarray, on_sigterm: Any
) -> float | None:
    """The test error, evaluated in chunks so that a SIGTERM is answered within one chunk;
    None once stopped, also during the last chunk: the run ended at its cutoff, unfinished."""
    wrong = 0
    for start in range(0, len(x), 1000):
        if on_sigterm.stop_requested:
            return None
        wrong += count_errors(model, x[start : start + 1000], y[start : start + 1000])
    return None if on_sigterm.stop_requested else wrong / len(x)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return train(args)
    except InputError as error:
        # Missing or bad data is the setup's fault, not the configuration's: stop the search.
        print(f"error: {error}", file=sys.stderr)
        report(None, "ABORT", reason=str(error))
        return 2
    except Exception as error:
        traceback.print_exc()  # whole, in the log; the reason is its start (Keras's can hold
        said = f"{type(error).__name__}: {error}"  # a whole weight tensor)
        report(None, "UNSAT", reason=said if len(said) <= 300 else said[:299] + "…")
        return 1


if __name__ == "__main__":
    sys.exit(main())
