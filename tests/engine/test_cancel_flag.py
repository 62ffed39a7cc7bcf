"""A phase's cancel flag: an Event in behaviour, made only when somebody waits."""

from __future__ import annotations

import threading

from wfrun.engine.turns import CancelFlag, PhaseRun


def test_a_wait_in_another_thread_wakes_when_the_flag_is_set() -> None:
    flag = CancelFlag()
    waiting = threading.Event()
    woke: list[bool] = []

    def waiter() -> None:
        waiting.set()
        woke.append(flag.wait(30))

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(10)
    flag.set()
    thread.join(10)
    assert woke == [True]
    assert flag.is_set()


def test_a_flag_set_before_the_wait_returns_at_once_and_an_unset_one_times_out() -> None:
    already = CancelFlag()
    already.set()
    assert already.wait(30) is True
    assert CancelFlag().wait(0.01) is False


def test_many_waiters_and_setters_race_without_a_lost_wake_up() -> None:
    for _ in range(200):
        flag = CancelFlag()
        results: list[bool] = []

        def waiter(flag: CancelFlag = flag, results: list[bool] = results) -> None:
            results.append(flag.wait(30))

        threads = [threading.Thread(target=waiter) for _ in range(3)]
        setter = threading.Thread(target=flag.set)
        for thread in [*threads[:2], setter, threads[2]]:
            thread.start()
        for thread in [*threads, setter]:
            thread.join(30)
        assert results == [True, True, True]


def test_cancel_keeps_the_first_reason() -> None:
    run = PhaseRun(name="p", spec=None, needs=(), resources=(), params={})  # type: ignore[arg-type]
    run.cancel("timed out after 5s")
    run.cancel("the run was interrupted")
    assert run.cancelled.is_set()
    assert run.cancelled.reason == run.cancel_reason == "timed out after 5s"
