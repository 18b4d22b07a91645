"""The asker keeps proposals ready on its own thread, asks only when the worker allows it (so
each ask knows the last result), holds the optimiser's lock while asking, and hands over an
end or an error in order."""

from __future__ import annotations

import threading
import time

import pytest

from smac_bridge.asker import Asker

WAIT = 10.0


class Counter:
    """An ask that counts its calls; `gate` lets a test hold an ask in flight."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls = 0
        self.stop_after = stop_after
        self.gate = threading.Event()
        self.gate.set()
        self.in_ask = threading.Event()

    def __call__(self) -> int | None:
        self.in_ask.set()
        assert self.gate.wait(WAIT)
        self.calls += 1
        if self.stop_after is not None and self.calls > self.stop_after:
            return None
        return self.calls


def asking(lock: threading.RLock, depth: int) -> tuple[Counter, Asker[int]]:
    """A started asker whose first ask is in flight, held there until `ask.gate` is set."""
    ask = Counter()
    ask.gate.clear()
    asker: Asker[int] = Asker(ask, lock, depth)
    asker.start()
    assert ask.in_ask.wait(WAIT)
    return ask, asker


def settle(condition: object, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_reserve_fills_to_its_depth_and_refills_only_when_allowed(depth: int) -> None:
    ask = Counter()
    asker: Asker[int] = Asker(ask, threading.RLock(), depth)
    asker.start()
    try:
        settle(lambda: ask.calls == depth)
        time.sleep(0.2)
        assert ask.calls == depth  # no more than the reserve
        assert asker.take() == 1
        time.sleep(0.2)
        assert ask.calls == depth  # taking alone does not ask: the result is not told yet
        asker.refill()
        settle(lambda: ask.calls == depth + 1)
        assert [asker.take() for _ in range(depth)] == list(range(2, depth + 2))
    finally:
        asker.close()


def test_the_ask_holds_the_lock_and_take_waits_for_it() -> None:
    lock = threading.RLock()
    ask, asker = asking(lock, 1)
    try:
        assert not lock.acquire(blocking=False)  # a tell now would wait for the ask
        taken: list[int | None] = []
        taker = threading.Thread(target=lambda: taken.append(asker.take()))
        taker.start()
        time.sleep(0.2)
        assert taken == []
        ask.gate.set()
        taker.join(WAIT)
        assert taken == [1]
        assert lock.acquire(blocking=False)
        lock.release()
    finally:
        ask.gate.set()
        asker.close()


def test_nothing_left_ends_every_later_take() -> None:
    ask = Counter(stop_after=2)
    asker: Asker[int] = Asker(ask, threading.RLock(), 2)
    asker.start()
    try:
        assert asker.take() == 1
        asker.refill()
        assert asker.take() == 2
        asker.refill()
        assert asker.take() is None
        assert asker.take() is None
        assert ask.calls == 3
    finally:
        asker.close()


def test_an_error_while_asking_reaches_the_worker_after_the_good_proposals() -> None:
    calls = []

    def ask() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", "runhistory.json")
        return len(calls)

    asker: Asker[int] = Asker(ask, threading.RLock(), 2)
    asker.start()
    try:
        assert asker.take() == 1
        with pytest.raises(OSError, match="No space left"):
            asker.take()
        with pytest.raises(OSError):
            asker.take()
    finally:
        asker.close()


def test_close_waits_for_the_ask_in_flight_and_asks_no_more() -> None:
    lock = threading.RLock()
    ask, asker = asking(lock, 2)
    threading.Timer(0.3, ask.gate.set).start()
    asker.close()
    assert ask.calls == 1  # the ask in flight ended, no second one began
    assert lock.acquire(blocking=False)
    lock.release()


def test_depth_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="depth"):
        Asker(lambda: 1, threading.RLock(), 0)
