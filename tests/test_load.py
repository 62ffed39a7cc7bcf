"""Load: 2,000 phases sharing 200 real resources under `--max-parallel 16`.

The workflow and the measuring run live in `benchmarks/load_graph.py` (which prints the
same figures as a table at several sizes); this test holds the run to its promises.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.load_graph import run_load

PEAK_RSS_LIMIT_MB = 200  # measured ~80 MB; most of it is the interpreter and the loader


def test_two_thousand_phases_start_and_stop_every_resource_exactly_once(tmp_path: Path) -> None:
    result = run_load(tmp_path, phases=2_000, resources=200, max_parallel=16)
    assert result.code == 0, result.events[-1] if result.events else "no events"
    finished = [e for e in result.events if e["kind"] == "phase_finished"]
    assert len(finished) == 2_000
    assert {e["status"] for e in finished} == {"succeeded"}
    started, stopped = result.count("resource_started"), result.count("resource_stopped")
    assert len(started) == 200
    assert set(started.values()) == {1}, [r for r, n in started.items() if n != 1]
    assert stopped == started
    assert 2 <= result.max_running() <= 16
    assert result.leftovers == []  # every workspace removed
    print(f"\n2,000 phases: {result.seconds:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB")
    assert result.peak_rss_mb < PEAK_RSS_LIMIT_MB
