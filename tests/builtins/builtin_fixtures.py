"""Fixtures for the built-in types: real temp dirs, contexts, an OpenAI-compatible server.

Test modules load it with `pytest_plugins = ["builtin_fixtures"]` rather than from a
conftest.py: a second conftest module would shadow the `conftest` that tests/ imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from builtin_helpers import FakeAPI, completion

from wfrun.engine.api import AgentContext, LiveResource, ResourceContext


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    """The workflow folder: relative paths in `with:` start here."""
    path = tmp_path / "flow"
    path.mkdir()
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture
def resource_ctx(flow_dir: Path, run_dir: Path) -> Callable[..., ResourceContext]:
    def make(name: str = "r", **overrides: Any) -> ResourceContext:
        values: dict[str, Any] = {
            "name": name,
            "run_dir": run_dir,
            "base_dir": flow_dir,
            "environ": dict(os.environ),
            "log": lambda _line: None,
        }
        values.update(overrides)
        return ResourceContext(**values)

    return make


@pytest.fixture
def agent_ctx(flow_dir: Path, run_dir: Path) -> Callable[..., AgentContext]:
    def make(
        name: str = "a",
        resources: Mapping[str, LiveResource] | None = None,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AgentContext:
        return AgentContext(
            name=name,
            phase="p",
            run_dir=run_dir,
            base_dir=flow_dir,
            environ=dict(os.environ) if environ is None else environ,
            resources=resources or {},
            attributes=attributes or {},
        )

    return make


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    api = FakeAPI()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            api.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(body or b"null"),
                }
            )
            if api.delay:
                stop.wait(api.delay)
            status, payload = api.replies.pop(0) if api.replies else (200, completion("DONE"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may have timed out and left
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield api
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join()
