"""The record's line writer: lines queued by many threads, written in order, none lost."""

from __future__ import annotations

import threading
from pathlib import Path

from wfrun.engine.records import LineWriter


def test_lines_from_many_threads_are_all_written_each_thread_in_its_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    errors: list[OSError] = []
    writer = LineWriter(path, 0.001, errors.append)
    go = threading.Event()

    def write(who: int) -> None:
        go.wait()
        for n in range(2_000):
            writer.write(f"{who} {n}\n".encode(), urgent=n % 500 == 0)

    threads = [threading.Thread(target=write, args=(who,)) for who in range(4)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    writer.close()
    lines = path.read_text().splitlines()
    assert errors == []
    assert len(lines) == 8_000
    for who in range(4):
        assert [line for line in lines if line.startswith(f"{who} ")] == [
            f"{who} {n}" for n in range(2_000)
        ]


def test_an_urgent_line_is_on_disk_when_write_returns_with_the_lines_before_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    writer = LineWriter(path, 3600, lambda exc: None)  # the flusher would wait an hour
    writer.write(b"phase\n")
    writer.write(b"resource\n", urgent=True)
    assert path.read_bytes() == b"phase\nresource\n"
    writer.write(b"after\n")
    writer.close()
    writer.write(b"straggler\n")  # after the run ended: dropped, not an error
    assert path.read_bytes() == b"phase\nresource\nafter\n"
