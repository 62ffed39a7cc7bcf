"""`port: auto`: the ports one process hands out never repeat while they may be in use."""

from __future__ import annotations

import threading

from wfrun.engine.ports import RECENT, free_port


def test_ports_handed_out_at_once_from_many_threads_are_all_different() -> None:
    """Four services of one run start at once: each must get a port of its own (the
    kernel's pick for a bind to port 0 may repeat as soon as a port is free again)."""
    got: list[int] = []
    go = threading.Event()

    def take() -> None:
        go.wait()
        for _ in range(RECENT // 8):
            got.append(free_port())

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    assert len(got) == RECENT // 2
    assert len(set(got)) == len(got)
