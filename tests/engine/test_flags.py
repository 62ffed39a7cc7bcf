"""The lazy cancel flag behaves as a threading.Event, across threads."""

from __future__ import annotations

import threading
import time

from wfrun.engine.flags import LazyEvent


def test_it_is_an_event_that_starts_clear() -> None:
    flag = LazyEvent()
    assert isinstance(flag, threading.Event)
    assert not flag.is_set()
    began = time.monotonic()
    assert flag.wait(0.05) is False
    assert time.monotonic() - began >= 0.04
    flag.set()
    assert flag.is_set()
    assert flag.wait(0) is True
    flag.clear()
    assert not flag.is_set()


def test_set_wakes_every_waiter_at_once() -> None:
    flag = LazyEvent()
    woke: list[float] = []
    lock = threading.Lock()

    def waiter() -> None:
        assert flag.wait(10)
        with lock:
            woke.append(time.monotonic())

    threads = [threading.Thread(target=waiter) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)  # all of them blocked in wait(), racing to make the lock
    set_at = time.monotonic()
    threading.Thread(target=flag.set).start()
    for thread in threads:
        thread.join(5)
    assert len(woke) == 8
    assert max(woke) - set_at < 1.0


def test_a_flag_set_before_anyone_waits_is_seen_by_later_waiters() -> None:
    flags = [LazyEvent() for _ in range(200)]
    setters = [threading.Thread(target=f.set) for f in flags]
    for thread in setters:
        thread.start()
    assert all(f.wait(5) for f in flags)
    for thread in setters:
        thread.join()
