"""Real learning curves, cheaply: a one-hidden-layer network on the digits data, epoch by epoch.

The stand-in `scripts/learning_curve_target.py` draws its curves from a formula; these come
from training. The network (numpy only, so a trial starts in a fraction of a second as a
training script of minutes would in proportion) takes the flags of mlp_digits.pcs: solver
(sgd with momentum, or adam), activation, hidden units, batch size, learning rate and L2
penalty. Each epoch is one pass over 1200 training images (fixed shuffle and initial
weights), then the error on the other 597 images is reported
(`smac_bridge.report(error, step=epoch, partial=True)`). An epoch computes for about 10 ms;
`--epoch-seconds` pads it to a training's pace. The training state is pickled after every
epoch into the run's artifacts and, when the run is a promotion (SMAC_BRIDGE_RESUME_FROM),
training continues from it.
"""

from __future__ import annotations

import os

# One thread per trial, set before numpy loads its BLAS: trials run side by side.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import importlib.util  # noqa: E402
import pickle  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from mlp_digits import network_flags, parse_network_flags  # noqa: E402

from smac_bridge import report  # noqa: E402

TRAIN_IMAGES = 1200
CHECKPOINT = "training.pkl"
Arrays = dict[str, np.ndarray]


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised training and validation images from one fixed shuffle of the digits
    (scikit-learn's copy of the UCI file, read without importing scikit-learn)."""
    spec = importlib.util.find_spec("sklearn")
    assert spec is not None and spec.submodule_search_locations, "scikit-learn is not installed"
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt") as stream:
        data = np.loadtxt(stream, delimiter=",")
    order = np.random.RandomState(0).permutation(len(data))
    x, y = data[order, :-1], data[order, -1].astype(int)
    mean, std = x[:TRAIN_IMAGES].mean(axis=0), x[:TRAIN_IMAGES].std(axis=0) + 1e-8
    x = (x - mean) / std
    return x[:TRAIN_IMAGES], y[:TRAIN_IMAGES], x[TRAIN_IMAGES:], y[TRAIN_IMAGES:]


def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def activation_slope(name: str, a: np.ndarray) -> np.ndarray:
    """The derivative, from the activation's output."""
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "tanh":
        return 1.0 - a**2
    return a * (1.0 - a)


def new_training(args: argparse.Namespace, inputs: int) -> dict[str, Any]:
    """Glorot-uniform weights, zero optimiser state, the epochs done and the shuffling rng."""
    rng = np.random.RandomState(0)
    weights: Arrays = {}
    for name, (fan_in, fan_out) in {"w1": (inputs, args.hidden), "w2": (args.hidden, 10)}.items():
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights[name] = rng.uniform(-bound, bound, (fan_in, fan_out))
        weights["b" + name[1]] = np.zeros(fan_out)
    zeros = {name: np.zeros_like(value) for name, value in weights.items()}
    return {"weights": weights, "m": zeros, "v": dict(zeros), "steps": 0, "epochs": 0, "rng": rng}


def gradients(args: argparse.Namespace, w: Arrays, x: np.ndarray, y: np.ndarray) -> Arrays:
    """Of the mean cross-entropy plus the L2 penalty, for one batch."""
    hidden = activate(args.activation, x @ w["w1"] + w["b1"])
    logits = hidden @ w["w2"] + w["b2"]
    logits -= logits.max(axis=1, keepdims=True)
    delta = np.exp(logits)
    delta /= delta.sum(axis=1, keepdims=True)
    delta[np.arange(len(y)), y] -= 1.0
    delta /= len(y)
    back = (delta @ w["w2"].T) * activation_slope(args.activation, hidden)
    return {
        "w2": hidden.T @ delta + args.alpha * w["w2"] / len(y),
        "b2": delta.sum(axis=0),
        "w1": x.T @ back + args.alpha * w["w1"] / len(y),
        "b1": back.sum(axis=0),
    }


def step(args: argparse.Namespace, training: dict[str, Any], grads: Arrays) -> None:
    """One update: sgd with momentum, or adam (its usual betas)."""
    training["steps"] += 1
    lr, t = args.learning_rate_init, training["steps"]
    for name, weight in training["weights"].items():
        m, v = training["m"][name], training["v"][name]
        if args.solver == "sgd":
            m *= args.momentum
            m -= lr * grads[name]
            weight += m
        else:
            m *= 0.9
            m += 0.1 * grads[name]
            v *= 0.999
            v += 0.001 * grads[name] ** 2
            weight -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)


def error(args: argparse.Namespace, w: Arrays, x: np.ndarray, y: np.ndarray) -> float:
    logits = activate(args.activation, x @ w["w1"] + w["b1"]) @ w["w2"] + w["b2"]
    return float(np.mean(np.nan_to_num(logits, nan=-np.inf).argmax(axis=1) != y))


def resumed(args: argparse.Namespace, inputs: int) -> dict[str, Any]:
    """The promoted trial's training state, or a fresh one."""
    resume = os.environ.get("SMAC_BRIDGE_RESUME_FROM")
    if resume and (Path(resume) / CHECKPOINT).exists():
        with open(Path(resume) / CHECKPOINT, "rb") as stream:
            return pickle.load(stream)
    return new_training(args, inputs)


def main() -> None:
    parser = network_flags(__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=27, help="the budget")
    parser.add_argument("--epoch-seconds", type=float, default=0.2, help="an epoch's least time")
    args = parse_network_flags(parser)

    x_train, y_train, x_valid, y_valid = digits()
    training = resumed(args, x_train.shape[1])
    done = training["epochs"]
    artifacts = Path(os.environ.get("SMAC_BRIDGE_ARTIFACTS", "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    print(f"training epochs {done + 1}..{args.epochs} (resumed after {done})", flush=True)
    quality = error(args, training["weights"], x_valid, y_valid)
    for epoch in range(done + 1, args.epochs + 1):
        started = time.monotonic()
        order = training["rng"].permutation(len(y_train))
        with np.errstate(all="ignore"):  # diverging learning rates are part of the space
            for start in range(0, len(order), args.batch_size):
                batch = order[start : start + args.batch_size]
                grads = gradients(args, training["weights"], x_train[batch], y_train[batch])
                step(args, training, grads)
            quality = error(args, training["weights"], x_valid, y_valid)
        training["epochs"] = epoch
        with open(artifacts / CHECKPOINT, "wb") as stream:
            pickle.dump(training, stream)
        time.sleep(max(0.0, args.epoch_seconds - (time.monotonic() - started)))
        print(f"epoch {epoch}: validation error {quality:.4f}", flush=True)
        report(quality, step=epoch, partial=True)
    report(quality, epochs_trained=args.epochs - done)


if __name__ == "__main__":
    main()
