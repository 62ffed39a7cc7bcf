"""The live board with more phases than rows: which rows it shows, and its counts."""

from __future__ import annotations

import io

from rich.console import Console

from wfrun.engine import events as ev
from wfrun.ui.progress import LiveBoard


def _screen(board: LiveBoard) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(board._render())
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def _board(names: list[str]) -> LiveBoard:
    board = LiveBoard(Console(file=io.StringIO(), width=100, force_terminal=True))
    board.handle(
        ev.RunStarted(
            t=0, run_id="r", workflow="w", file="f", run_dir="d", execution="graph",
            phases=names, max_parallel=4, started_at="now",
        )
    )  # fmt: skip
    return board


def _start(board: LiveBoard, name: str) -> None:
    board.handle(ev.PhaseStarted(t=1, phase=name, agents=("a",), max_iterations=3))


def _finish(board: LiveBoard, name: str, status: str = "succeeded") -> None:
    board.handle(
        ev.PhaseFinished(
            t=2, phase=name, status=status, success=status == "succeeded", iterations=1,
            seconds=0.5, output="", reason="",
        )
    )  # fmt: skip


def _shown(screen: str, names: list[str]) -> list[str]:
    return [name for name in names if f" {name} " in screen]


def test_running_first_then_the_latest_finished_then_what_comes_next() -> None:
    names = [f"p{i:02d}" for i in range(40)]
    board = _board(names)
    try:
        for name in names[:20]:  # finished in an order unlike the listing's
            _start(board, name)
        for name in reversed(names[:20]):
            _finish(board, name, "failed" if name == "p05" else "succeeded")
        for name in ("p30", "p25"):  # started out of listing order
            _start(board, name)
        board.handle(ev.PhaseSkipped(t=3, phase="p21", reason="if: false"))
        screen = _screen(board)
    finally:
        board.close()
    # 2 running; room 12: the 6 latest to finish (p05..p00 finished last, p21 skipped
    # after them, so p04..p00 and p21); then the first 6 pending in listing order.
    assert _shown(screen, names) == [
        "p00", "p01", "p02", "p03", "p04",
        "p20", "p21", "p22", "p23", "p24", "p25", "p26", "p27", "p30",
    ]  # fmt: skip
    summary = "40 phases: 1 failed, 17 pending, 2 running, 1 skipped, 19 succeeded (26 not shown)"
    assert summary in screen


def test_a_small_run_shows_every_phase_in_listing_order() -> None:
    names = ["build", "test", "ship"]
    board = _board(names)
    try:
        _start(board, "test")
        _finish(board, "test")
        _start(board, "build")
        screen = _screen(board)
    finally:
        board.close()
    assert _shown(screen, names) == names
    assert "3 phases: 1 pending, 1 running, 1 succeeded" in screen
    assert "not shown" not in screen


def test_spawned_phases_join_the_rows_and_the_counts() -> None:
    board = _board(["main"])
    try:
        _start(board, "main")
        for i in range(20):
            board.handle(ev.PhaseSpawned(t=1, phase=f"fix-{i}", template="fix", spawner="main"))
        _finish(board, "main")
        screen = _screen(board)
    finally:
        board.close()
    assert "21 phases: 20 pending, 1 succeeded (7 not shown)" in screen
    assert _shown(screen, ["main", "fix-0", "fix-12", "fix-13"]) == ["main", "fix-0", "fix-12"]


def test_lines_too_wide_are_cut_and_control_characters_never_reach_the_terminal() -> None:
    board = _board(["p"])
    try:
        _start(board, "p")
        talk = "long " * 30 + "THE-END"
        board.handle(
            ev.AgentOutput(
                t=1, phase="p", agent="a", iteration=1, output=talk, success=True, done=True
            )
        )
        board.handle(
            ev.AgentLog(t=1, phase="p", agent="a", line="ring\a back\b \x1b[2Jtab\there\x7f")
        )
        board.handle(ev.Notice(t=1, message="a reason\nover two lines"))
        console = Console(file=io.StringIO(), width=40, color_system=None)
        console.print(board._render())
        lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    finally:
        board.close()
    assert all(len(line) <= 40 for line in lines), lines
    talked = next(line for line in lines if "p · a #1: long" in line)
    assert talked.endswith("…"), talked  # cut, not wrapped onto a new line
    assert not any("THE-END" in line for line in lines), lines
    logged = next(line for line in lines if "p · a: ring" in line)
    assert logged.startswith("  p · a: ring back tab "), logged  # the escape sequence whole
    assert logged.endswith(" here"), logged
    assert not any(c in logged for c in "\a\b\t\x1b\x7f"), logged
    assert "  a reason" in lines, lines  # a line each, not one cut short
    assert "over two lines" in lines, lines
