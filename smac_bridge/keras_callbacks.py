"""Keras callbacks for training scripts tuned by smac-bridge.

`ReportOnSigterm` makes a stopped run still teach the optimiser something: when the wrapper
sends SIGTERM (the cutoff, or `smac-bridge stop`), the run reports the quality reached so far
as a partial result instead of dying with nothing; after each epoch it reports the quality as
a partial result with `step=epoch`, the run's learning curve in the dashboard. `PrintProgress`
makes a running trial visible: Keras prints nothing until an epoch ends, which on a CPU can
take minutes, so `smac-bridge tail --follow` would show only TensorFlow's start-up messages.
`Checkpoint` lets a trial promoted to a larger budget continue where its previous trial
stopped, instead of training again from the first epoch.
Only training scripts import this module, so it may import Keras at the top.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import keras

from smac_bridge.layout import plain_data, write_json_atomic
from smac_bridge.reporting import report
from smac_bridge.script_env import ARTIFACTS_ENV, BUDGET_FLAG_ENV, GRACE_ENV, RESUME_FROM_ENV

Handler = Callable[[int, FrameType | None], Any] | int | None


class ReportOnSigterm(keras.callbacks.Callback):
    """On SIGTERM, evaluate `quality(model)` at the next batch end, report it, stop training;
    after each epoch, report `quality(model)` as partial with `step` = epochs done.

    The signal handler only sets a flag: evaluating inside a signal handler could interrupt
    TensorFlow in the middle of a step. The handler is installed when the callback is created
    (so a signal during the first, slow batch is not lost) and the previous handler comes back
    when training ends, or, with `restore_on_train_end=False`, when the script calls
    `restore_handlers()` after checking `stop_requested` during its own final evaluation.
    After a partial report `reported` is true, and the script should skip its own final report,
    which would replace the partial one.
    """

    def __init__(
        self,
        quality: Callable[[keras.Model], float],
        *,
        signals: tuple[int, ...] = (signal.SIGTERM,),
        restore_on_train_end: bool = True,
        **extra: object,
    ) -> None:
        super().__init__()
        self.quality_fn = quality
        self.restore_on_train_end = restore_on_train_end
        self.extra: dict[str, Any] = dict(extra)
        self.stop_requested = False
        self.stopped_at: float | None = None  # time.monotonic(): the stop signal, at the latest
        self._python_ran = time.monotonic()  # at this callback's last call
        self.reported = False
        self.epoch = 0
        self.batches = 0
        self.signals = signals
        self._previous: dict[int, Handler] = {}
        self._install_handlers()

    def _install_handlers(self) -> None:
        self._previous = {signum: signal.signal(signum, self._on_signal) for signum in self.signals}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        if self.stopped_at is None:
            # Python runs a handler between two of its own steps: one that came during a
            # batch (TensorFlow's C++, a minute for a large model on a CPU) runs after it. The
            # signal came after Python last ran this callback, so the grace is counted from then.
            self.stopped_at = self._python_ran

    def grace_left(self) -> float:
        """Seconds left of the wrapper's grace (`SMAC_BRIDGE_GRACE`) before it SIGKILLs a
        stopped run, so that an evaluation after a stop can end in time with what it has;
        infinite before a stop, or where no wrapper said its grace (under Java SMAC's own)."""
        grace = os.environ.get(GRACE_ENV)
        if self.stopped_at is None or grace is None:
            return float("inf")
        try:
            return float(grace) - (time.monotonic() - self.stopped_at)
        except ValueError:
            return float("inf")

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._python_ran = time.monotonic()
        if not self._previous:  # a second fit (fine-tuning): the first one's end put them back
            self._install_handlers()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._python_ran = time.monotonic()
        self.epoch = epoch
        self.batches = 0  # of this epoch

    def _python_runs(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Python runs this callback now: a stop signal that comes later came after this."""
        self._python_ran = time.monotonic()

    # the batches of training, and of Keras's validation (validation_data) and predictions
    on_train_batch_begin = on_test_batch_begin = on_test_batch_end = _python_runs
    on_predict_batch_begin = on_predict_batch_end = _python_runs

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._python_ran = time.monotonic()
        self.batches += 1
        if self.stop_requested and not self.reported:
            self.report_partial()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._python_ran = time.monotonic()
        # A stopped run reports at its next batch or at the end of training instead.
        if not self.stop_requested:
            quality = float(self.quality_fn(self.model))
            report(quality, partial=True, step=epoch + 1, **self.extra)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._python_ran = time.monotonic()
        # A signal that came after the last batch still gets its partial report.
        if self.stop_requested and not self.reported:
            self.report_partial()
        if self.restore_on_train_end:
            self.restore_handlers()

    def report_partial(self) -> None:
        """Evaluate the model now, report the quality as partial and stop training."""
        print(
            f"stop requested: reporting the quality after {self.batches} batches of epoch"
            f" {self.epoch + 1}",
            file=sys.stderr,
            flush=True,
        )
        quality = float(self.quality_fn(self.model))
        report(  # TIMEOUT: stopped, by its own account, whatever the script prints after
            quality,
            "TIMEOUT",
            partial=True,
            reason="stopped by a signal",
            stopped_at_epoch=self.epoch + 1,
            batches_done=self.batches,
            **self.extra,
        )
        self.reported = True
        self.model.stop_training = True

    def restore_handlers(self) -> None:
        """Put back the signal handlers that were there before this callback."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}


class PrintProgress(keras.callbacks.Callback):
    """Print one line about the training during each epoch: after its first batch, then every
    `every_batches` batches or `every_seconds` seconds, whichever comes first.

    A line reads `epoch 1/12 batch 100/391: accuracy 0.9102, loss 0.2874 (14 s into the
    epoch)`. It goes to stderr (default) and is flushed at once, so a log being followed shows
    it immediately, and it never becomes the last line of stdout, where a wrapper may look for
    the quality.
    """

    def __init__(
        self, every_batches: int = 100, every_seconds: float = 15.0, stream: TextIO | None = None
    ) -> None:
        super().__init__()
        self.every_batches = max(1, every_batches)
        self.every_seconds = every_seconds
        self.stream = stream
        self.epoch = 0
        self._epoch_started = self._last_line = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        self._epoch_started = self._last_line = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        done = batch + 1
        now = time.monotonic()
        due = done % self.every_batches == 0 or now - self._last_line >= self.every_seconds
        if done == 1 or due:
            self._last_line = now
            print(self.line(done, logs or {}, now), file=self.stream or sys.stderr, flush=True)

    def line(self, done: int, logs: dict[str, Any], now: float) -> str:
        """The progress line after batch DONE (counted from 1) of the current epoch."""
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        where = f"epoch {self.epoch + 1}/{epochs} batch {done}" + (f"/{steps}" if steps else "")
        metrics = []
        for name, value in sorted(logs.items()):
            try:
                metrics.append(f"{name} {float(value):.4f}")
            except (TypeError, ValueError):
                continue
        elapsed = f"({now - self._epoch_started:.0f} s into the epoch)"
        return f"{where}: {', '.join(metrics)} {elapsed}" if metrics else f"{where} {elapsed}"


def _train_afresh(warning: str) -> int:
    """Say WARNING (why a checkpoint is not continued) and train from the first epoch: 0
    epochs done."""
    print(warning, file=sys.stderr, flush=True)
    return 0


class Checkpoint(keras.callbacks.Callback):
    """Save the weights, the optimizer's state and the epochs done after each epoch, and
    continue from the checkpoint a promoted trial is told about.

    In a multi-fidelity launch a configuration promoted to a larger budget is run again with
    `SMAC_BRIDGE_RESUME_FROM` naming the artifacts folder of its previous trial; `restore`
    loads that trial's weights and optimizer state (its moments or accumulators and its step
    count: without them the continued training restarts its optimizer, a jolt a
    stopped-and-resumed training does not have) and returns the epochs it did, to pass to
    `model.fit` as `initial_epoch`, so only the remaining epochs are trained. A trial run
    again after a Ctrl-C or a lost worker stopped it is told its stopped attempt's folder
    the same way.

    Each epoch's weights go to a file of their own and `checkpoint.json`, replaced atomically
    once that file is complete, names it: a trial killed while saving leaves the previous
    epoch's checkpoint whole, never weights of one epoch under another's count. An epoch cut
    short (a stop at the cutoff or by a pruning rule ends training after the current batch,
    and Keras still ends the epoch) is not saved as done; where Keras does not know an epoch's
    length (a generator, a dataset of unknown length), no epoch that ends stopped is.

    FOLDER is the artifacts folder (`SMAC_BRIDGE_ARTIFACTS`) or a folder inside it: a
    promoted trial looks for the checkpoint at the same place in its previous trial's (for a
    folder elsewhere, `restore` says that it cannot continue).

    With `config` (the hyper-parameters and whatever else shapes the training), a checkpoint
    saved with another one is not continued: the training starts from its first epoch, and
    says why on stderr. Continued, it would train on from a model it is not, or fail on its
    first weight of another shape (a launch resumed after its command changed). The budget
    flag (`SMAC_BRIDGE_BUDGET_FLAG`, the epochs), which a promotion raises, is not compared,
    so `config=vars(args)` works.
    """

    STATE = "checkpoint.json"

    def __init__(self, folder: Path, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.config = plain_data(config) if config is not None else None  # as saved
        self.batches = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.batches += 1

    def restore(self, model: keras.Model, epochs: int | None = None) -> int:
        """Load the promoted-from checkpoint into MODEL, compiled; the epochs it had done
        (0: none). One of more than EPOCHS, the training's whole length, is not continued:
        a fit from there would train nothing and report another training's quality."""
        resume = os.environ.get(RESUME_FROM_ENV)
        if not resume:
            return 0
        inside = self._inside_artifacts()
        if inside is None:
            return _train_afresh(
                f"warning: this trial continues {resume}, but Checkpoint saves in"
                f" {self.folder}, outside the artifacts folder"
                f" {os.environ.get(ARTIFACTS_ENV)}, where no promotion looks:"
                " training from the first epoch (save the checkpoint in that folder)",
            )
        previous = Path(resume) / inside
        if not (previous / self.STATE).exists():
            return 0
        try:
            state = json.loads((previous / self.STATE).read_text(encoding="utf-8"))
            epochs_done, weights = int(state["epochs"]), previous / str(state["weights"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            return self._unreadable(previous / self.STATE, error)
        differ = self._differences(state)
        if differ:
            return _train_afresh(
                f"warning: SMAC_BRIDGE_RESUME_FROM={resume} holds the checkpoint of another"
                f" training ({differ}): training from the first epoch instead",
            )
        if epochs is not None and epochs_done > epochs:
            return _train_afresh(
                f"warning: SMAC_BRIDGE_RESUME_FROM={resume} holds a checkpoint after epoch"
                f" {state['epochs']}, past this training's {epochs}: training from the first"
                " epoch instead",
            )
        # An optimizer that has no variables yet skips the saved ones (with a warning only).
        model.optimizer.build(model.trainable_variables)
        fresh = [variable.numpy() for variable in (*model.weights, *model.optimizer.variables)]
        try:
            model.load_weights(weights)
        except (OSError, ValueError, KeyError) as error:  # gone, truncated, another model's
            for variable, value in zip(
                (*model.weights, *model.optimizer.variables), fresh, strict=True
            ):
                variable.assign(value)  # nothing half-loaded stays
            return self._unreadable(weights, error)
        return epochs_done

    @staticmethod
    def _unreadable(path: Path, error: Exception) -> int:
        """A checkpoint that cannot be loaded (deleted, cut short by a crash of the machine)
        costs the epochs it saved, not the trial: it trains from the first epoch."""
        return _train_afresh(
            f"warning: cannot load the checkpoint {path} ({error}): training from the first"
            " epoch instead"
        )

    def _differences(self, state: dict[str, Any]) -> str:
        """How the config the checkpoint STATE was saved with differs from this one's ("":
        not at all, or either has none), leaving out the budget flag (argparse's name)."""
        saved = state.get("config")
        if self.config is None or saved is None:
            return ""
        flag = os.environ.get(BUDGET_FLAG_ENV, "").lstrip("-").replace("-", "_")
        return ", ".join(
            f"{name} {saved.get(name)!r}, not {self.config.get(name)!r}"
            for name in sorted(set(saved) | set(self.config))
            if saved.get(name) != self.config.get(name) and name != flag
        )

    def _inside_artifacts(self) -> Path | None:
        """Where the checkpoint's folder is inside the artifacts folder (Path(): at its top,
        or no artifacts folder is set); None when it is outside it."""
        artifacts = os.environ.get(ARTIFACTS_ENV)
        if not artifacts:
            return Path()
        try:
            return Path(self.folder).resolve().relative_to(Path(artifacts).resolve())
        except ValueError:
            return None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        steps = self.params.get("steps")  # None for a generator or a dataset of unknown length
        cut_short = self.batches < steps if steps else self.model.stop_training
        if cut_short:
            return  # the previous epoch's checkpoint stays the one to continue from
        self.folder.mkdir(parents=True, exist_ok=True)
        weights = f"checkpoint-{epoch + 1}.weights.h5"
        self.model.save_weights(self.folder / weights)
        with open(self.folder / weights, "rb") as saved:
            os.fsync(saved.fileno())  # on disk before the state that names it
        done = {"epochs": epoch + 1, "weights": weights}
        if self.config is not None:
            done["config"] = self.config
        write_json_atomic(self.folder / self.STATE, done)
        for older in self.folder.glob("checkpoint-*.weights.h5"):
            if older.name != weights:
                older.unlink()
