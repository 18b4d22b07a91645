"""Keras callbacks for training scripts tuned by smac-bridge.

`ReportOnSigterm` makes a stopped run still teach the optimiser something: when the wrapper
sends SIGTERM (the cutoff, or `smac-bridge stop`), the run reports the quality reached so far
as a partial result instead of dying with nothing. Only training scripts import this module,
so it may import Keras at the top.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import keras

from smac_bridge.reporting import report

Handler = Callable[[int, FrameType | None], Any] | int | None


class ReportOnSigterm(keras.callbacks.Callback):
    """On SIGTERM, evaluate `quality(model)` at the next batch end, report it, stop training.

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
        self.extra = extra
        self.stop_requested = False
        self.reported = False
        self.epoch = 0
        self.batches = 0
        self._previous: dict[int, Handler] = {
            signum: signal.signal(signum, self._on_signal) for signum in signals
        }

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.batches += 1
        if self.stop_requested and not self.reported:
            self.report_partial()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        # A signal that came after the last batch still gets its partial report.
        if self.stop_requested and not self.reported:
            self.report_partial()
        if self.restore_on_train_end:
            self.restore_handlers()

    def report_partial(self) -> None:
        """Evaluate the model now, report the quality as partial and stop training."""
        print(
            f"stop requested: reporting the quality after {self.batches} batches "
            f"(epoch {self.epoch + 1})",
            file=sys.stderr,
            flush=True,
        )
        quality = float(self.quality_fn(self.model))
        report(
            quality,
            partial=True,
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
