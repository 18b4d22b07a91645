"""Proposals asked on a thread of their own and kept in reserve, so a slot never waits for one.

A retraining `ask()` can cost seconds (the random forest every few asks, the Gaussian process at
every ask). Asked on the worker's own thread while a trial runs, it stays hidden only while it
is shorter than the trial: a 2.7 s forest retraining behind a 2 s trial left the slot idle.
The asker asks on its own thread and keeps up to `depth` proposals ready, so that the next one
is there the moment a trial ends, whatever the ask in flight costs.

SMAC3 is not thread-safe: every use of the optimiser, here and in the worker, holds one lock.
The ask's own Python code lets go of the interpreter often (a 10 ms tick on the other thread
waited 0.15 s at most during forest asks at 500 runs), so the worker still sees a trial end at
once. A proposal is asked only when the worker calls `refill()`, after it has told the
optimiser its last result, so that each ask knows every result there was to know.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Failed:
    """An exception raised while asking, handed to the worker's thread by `take()`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Asker(Generic[T]):
    """Calls ASK under LOCK on a daemon thread; `take()` hands its answers over in order.

    ASK returns None when there is nothing (more) to ask for: the asker then stops, and every
    later `take()` returns None.
    """

    def __init__(self, ask: Callable[[], T | None], lock: threading.RLock, depth: int) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self._ask = ask
        self._lock = lock
        self.depth = depth
        self._ready: deque[T | None | _Failed] = deque()
        self._wanted = depth  # proposals the worker allowed since its last take
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="smac-bridge asker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def take(self) -> T | None:
        """The oldest ready proposal, waiting for it; re-raises what the asking raised."""
        with self._changed:
            while not self._ready:
                if self._closed:
                    return None
                self._changed.wait()
            item = self._ready[0]
            if item is None or isinstance(item, _Failed):
                self._closed = True  # the end stays in the queue: every later take sees it
            else:
                self._ready.popleft()
            self._wanted = 0
        if isinstance(item, _Failed):
            raise item.error
        return item

    def refill(self) -> None:
        """Let the asker fill the reserve back up to `depth` (with what the optimiser knows
        from now on)."""
        with self._changed:
            self._wanted = self.depth
            self._changed.notify_all()

    def close(self) -> None:
        """Ask no more; wait for an ask in flight (it cannot be cut short)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def _may_ask(self) -> bool:
        return not self._closed and len(self._ready) < self._wanted

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._closed and not self._may_ask():
                    self._changed.wait()
                if self._closed:
                    return
            item: T | None | _Failed
            try:
                with self._lock:
                    item = self._ask()
            except BaseException as error:  # noqa: BLE001 - the worker's thread re-raises it
                item = _Failed(error)
            with self._changed:
                self._ready.append(item)
                self._changed.notify_all()
                if item is None or isinstance(item, _Failed):
                    return
