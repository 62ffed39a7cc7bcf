"""The live board in a real pseudo-terminal, read back through a terminal emulator (pyte)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pyte

COLUMNS, LINES = 100, 30


def _run_in_terminal(
    engine_project, *args: str, timeout: float = 60
) -> tuple[int, list[str], list[list[str]]]:
    """Run wfrun on a pty; return exit code, final screen, and screens seen while running."""
    main, child = pty.openpty()
    env = engine_project.env()
    env.pop("NO_COLOR", None)
    env.update(COLUMNS=str(COLUMNS), LINES=str(LINES), TERM="xterm-256color")
    proc = subprocess.Popen(
        engine_project.command(*args),
        cwd=engine_project.path,
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    snapshots: list[list[str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            stream.feed(data)
            snapshots.append(list(screen.display))
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=10)
    os.close(main)
    return code, [line.rstrip() for line in screen.display], snapshots


def test_live_board_shows_phases_resources_and_output(engine_project):
    engine_project.write(
        """
        version: 1
        name: board
        plugins: [plugin_types]
        resources:
          db: {type: probe, with: {tag: TAG}}
        agents:
          talker: {type: act, requires: [db], with: {seconds: 1.0, say: "hello from talker"}}
          quick: {type: act, with: {say: "quick one"}}
        phases:
          first: {agents: [talker]}
          second: {agents: [quick]}
        """
    )
    code, final, snapshots = _run_in_terminal(engine_project, "run", "flow.yaml")
    text = "\n".join(final)
    assert code == 0, text
    # What a person sees at the end: the table with both phases done, the output, the verdict.
    assert any(line.startswith(" ✓  first ") and "succeeded" in line for line in final), text
    assert any(line.startswith(" ✓  second ") and "succeeded" in line for line in final), text
    assert "first · talker #1: hello from talker" in text
    assert "resources live: none" in text
    assert any(line.startswith("run succeeded in ") for line in final), text
    # And while it ran: `first` running with its resource live and its turn counter.
    running = [
        "\n".join(s)
        for s in snapshots
        if any("▶" in line and "first" in line and "running" in line for line in s)
    ]
    assert running, "never saw `first` running"
    assert any("resources live: db" in s and "1/10" in s for s in running), running[-1]
    assert "Traceback" not in text
