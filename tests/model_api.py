"""A real OpenAI-compatible `/chat/completions` server on 127.0.0.1, for the tests.

One server for every test that needs a model API: the built-in types' tests, the
executor's trust tests and the retry tests. Each reply is `(status, body)` or
`(status, body, headers)`; when none are left it answers `default`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(text: str, prompt_tokens: int = 11, completion_tokens: int = 7) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        }
    ).encode()


@dataclass
class FakeAPI:
    """What the server answers, and what it was asked (path, headers, JSON) and when."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    replies: list[Any] = field(default_factory=list)
    default: tuple[int, bytes] = (200, completion("DONE"))
    delay: float = 0.0


@contextlib.contextmanager
def serving(api: FakeAPI | None = None) -> Iterator[FakeAPI]:
    """Serve `api` (a new one by default) until the block ends."""
    live = api or FakeAPI()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            live.arrivals.append(time.monotonic())
            live.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(body or b"null"),
                }
            )
            if live.delay:
                stop.wait(live.delay)
            status, payload, *more = live.replies.pop(0) if live.replies else live.default
            self.send_response(status)
            for name, value in (more[0] if more else {}).items():
                self.send_header(name, value)
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
    live.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield live
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
