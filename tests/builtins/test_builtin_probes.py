"""Readiness probes against real sockets, a real HTTP server and real commands."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from builtin_helpers import free_port

from tests.model_api import FakeAPI
from wfrun.builtins import probes
from wfrun.builtins.config import ReadyProbe

pytest_plugins = ["builtin_fixtures"]


def test_tcp_probe_sees_a_listening_socket(tmp_path: Path) -> None:
    port = free_port()
    check = probes.check_for(ReadyProbe(tcp=f"127.0.0.1:{port}"), cwd=tmp_path, env=os.environ)
    reason = check(1.0)
    assert reason is not None
    assert reason.startswith(f"cannot connect to 127.0.0.1:{port}")
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert check(1.0) is None


def test_http_probe_wants_2xx(fake_api: FakeAPI, tmp_path: Path) -> None:
    # The fake API answers POST only: a GET gets 501 from http.server.
    check = probes.http_check(fake_api.url)
    assert check(1.0) == f"GET {fake_api.url} answered HTTP 501"
    refused = probes.http_check(f"http://127.0.0.1:{free_port()}/")
    assert "failed" in (refused(1.0) or "")


def test_command_probe_and_wait_ready(tmp_path: Path) -> None:
    flag = tmp_path / "up"
    check = probes.command_check(["test", "-e", str(flag)], cwd=tmp_path, env=os.environ)
    assert check(1.0) == f"`test -e {flag}` exited 1"
    assert probes.wait_ready(check, timeout=0.3, interval=0.05) == (
        f"not ready after 0.3s: `test -e {flag}` exited 1"
    )
    flag.touch()
    assert probes.wait_ready(check, timeout=1, interval=0.05) is None


def test_wait_ready_gives_up_when_the_service_exits() -> None:
    began = time.monotonic()
    reason = probes.wait_ready(
        lambda _: "still down", timeout=30, interval=0.05, exited=lambda: "exited with code 2"
    )
    assert reason == "exited with code 2 before it was ready"
    assert time.monotonic() - began < 1
