"""Every example workflow runs green through the real CLI and leaves nothing behind.

Each run is a real `python -m wfrun run` subprocess with its own TMPDIR, so every
`wfrun-ws-*` workspace it makes lands where the test can look, and a marker variable in
its environment, so any process it started, however deep, can be found in /proc
afterwards. Zombies count as dead: they hold nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.docker_engine import require_engine
from tests.faults.harness import marked_processes
from wfrun.engine import procs

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(
    [*REPO.glob("workflows/*.yaml"), *REPO.glob("workflows/*/workflow.yaml")],
    key=lambda p: str(p.relative_to(REPO)),
)
IDS = [str(p.relative_to(REPO)) for p in EXAMPLES]
EXPLOIT = REPO / "workflows" / "exploit-and-patch" / "workflow.yaml"
AGENT_LOOP = REPO / "workflows" / "agent-loop" / "workflow.yaml"
MARKER = "WFRUN_TEST_RUN_MARKER"


@dataclass
class Run:
    """One `wfrun run` subprocess: what it printed, and the record it wrote."""

    args: list[str]
    code: int
    out: str
    err: str
    tmpdir: Path
    marker: str
    run_dir: Path | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["kind"] == kind]

    def outputs(self, phase: str) -> list[dict[str, Any]]:
        return [event for event in self.kinds("agent_output") if event["phase"] == phase]

    def __repr__(self) -> str:
        return (
            f"\n--- wfrun {' '.join(self.args)} exited {self.code}\n"
            f"--- stdout:\n{self.out}--- stderr:\n{self.err}--- end"
        )


def run_wfrun(workdir: Path, path: Path, *params: str) -> Run:
    """`wfrun run path -p ...` in `workdir`, records under workdir/runs, temp dirs in workdir/tmp."""
    tmpdir = workdir / "tmp"
    tmpdir.mkdir(parents=True)
    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "TMPDIR": str(tmpdir),
        "PYTHONPATH": str(REPO),
        MARKER: marker,
    }
    args = ["run", str(path), "--runs-dir", str(workdir / "runs")]
    for param in params:
        args += ["-p", param]
    done = subprocess.run(
        [sys.executable, "-m", "wfrun", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    run = Run(args, done.returncode, done.stdout, done.stderr, tmpdir, marker)
    run_dirs = sorted((workdir / "runs").iterdir()) if (workdir / "runs").is_dir() else []
    assert len(run_dirs) == 1, run
    run.run_dir = run_dirs[0]
    lines = (run.run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    run.events = [json.loads(line) for line in lines if line.strip()]
    run.record = json.loads((run.run_dir / "run.json").read_text(encoding="utf-8"))
    return run


def assert_nothing_left(run: Run) -> None:
    """No workspace dir and no process that the run started is still there."""
    assert sorted(run.tmpdir.glob("wfrun-ws-*")) == [], run
    for event in run.kinds("resource_started"):
        path = event["attributes"].get("path")
        if path and Path(path).name.startswith("wfrun-ws-"):
            assert Path(path).parent == run.tmpdir, f"workspace outside TMPDIR: {path}"
            assert not Path(path).exists(), f"workspace {path} survived{run!r}"
        pid = event["attributes"].get("pid")
        if pid:
            assert not procs.is_alive(pid), f"{event['resource']} pid {pid} survived{run!r}"
            assert procs.members(pid) == [], f"children of {event['resource']} survived{run!r}"
    assert marked_processes(run.marker, MARKER) == [], run


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Run]:
    """Runs each example once per module; the specific tests below reuse those runs."""
    cache: dict[Path, Run] = {}

    def get(path: Path) -> Run:
        if path not in cache:
            cache[path] = run_wfrun(tmp_path_factory.mktemp("example"), path)
        return cache[path]

    return get


def test_the_agent_loop_example_is_there() -> None:
    assert "workflows/agent-loop/workflow.yaml" in IDS
    assert "workflows/exploit-and-patch/workflow.yaml" in IDS


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_example_runs_green_and_cleans_up(example_run: Callable[[Path], Run], path: Path) -> None:
    if "type: container" in path.read_text(encoding="utf-8"):
        require_engine()  # a skip with one line outside CI, a failure in it
    run = example_run(path)
    assert run.code == 0, run
    assert run.record["status"] == "succeeded", run
    assert run.record["exit_code"] == 0
    assert {p["status"] for p in run.record["phases"].values()} <= {"succeeded", "skipped"}, run
    assert_nothing_left(run)


def _port_is_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port (TIME_WAIT leftovers do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def test_exploit_and_patch_proves_then_fixes_the_flaw(example_run: Callable[[Path], Run]) -> None:
    run = example_run(EXPLOIT)
    assert run.code == 0, run
    assert {name: p["status"] for name, p in run.record["phases"].items()} == {
        "exploit": "succeeded",
        "patch": "succeeded",
        "verify": "succeeded",
    }
    [exploit] = run.outputs("exploit")
    assert (exploit["agent"], exploit["success"]) == ("attacker", True)
    assert exploit["output"] == "exploited: read 'FLAG{path-traversal-works}'"
    # `expect: failure`: its one try fails to exploit, so the verify phase succeeds.
    [verify] = run.outputs("verify")
    assert (verify["agent"], verify["success"]) == ("verifier", False)
    assert verify["output"] == "not exploitable: HTTP 404"
    assert run.record["phases"]["verify"]["success"] is True
    assert run.record["phases"]["verify"]["iterations"] == 1
    # Both servers listened on their ports while used, and nothing listens there now.
    ports = {
        e["resource"]: e["attributes"]["port"]
        for e in run.kinds("resource_started")
        if "port" in e["attributes"]
    }
    assert sorted(ports) == ["patched", "vulnerable"], run  # `port: auto`: free ports
    assert all(isinstance(port, int) for port in ports.values()), ports
    assert [port for port in ports.values() if not _port_is_free(port)] == [], run
    # The vulnerable server is stopped as soon as the exploit phase no longer needs it.
    order = [(e["kind"], e.get("phase") or e.get("resource")) for e in run.events]
    assert order.index(("resource_stopped", "vulnerable")) < order.index(("phase_started", "patch"))
    assert_nothing_left(run)


# -- the agent-loop example against a real OpenAI-compatible HTTP server ---------------


@dataclass
class ChatServer:
    """`POST /v1/chat/completions` on 127.0.0.1, answering from `answers` in order."""

    answers: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    chat = ChatServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            chat.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
            if self.path != "/v1/chat/completions" or not chat.answers:
                self._reply(500, {"error": {"message": f"no answer for {self.path}"}})
                return
            content = chat.answers.pop(0)
            self._reply(
                200,
                {
                    "id": f"chatcmpl-{len(chat.requests)}",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100 * len(chat.requests), "completion_tokens": 7},
                },
            )

        def _reply(self, status: int, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    chat.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield chat
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# A different route to the fix than answers.yaml takes, so a pass cannot be the replay.
FIX = textwrap.dedent(
    """\
    The even case needs the mean of the two middle values.
    ```sh
    python3 - <<'PY'
    import pathlib
    path = pathlib.Path("project/stats.py")
    old = "    return ordered[len(ordered) // 2]\\n"
    new = (
        "    mid = len(ordered) // 2\\n"
        "    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2\\n"
    )
    path.write_text(path.read_text().replace(old, new))
    PY
    ```
    """
)


def _openai_params(chat: ChatServer) -> tuple[str, ...]:
    return ("provider=openai", f"base_url={chat.url}", "model=test-model", "turns=4")


def test_agent_loop_against_an_openai_compatible_server(
    tmp_path: Path, chat_server: ChatServer
) -> None:
    chat_server.answers += [
        "```sh\ncd project && python3 -m unittest 2>&1\n```",
        FIX,
        "```sh\ncd project && python3 -m unittest 2>&1\n```",
        "Fixed: the tests pass. DONE",
    ]
    run = run_wfrun(tmp_path, AGENT_LOOP, *_openai_params(chat_server))
    assert run.code == 0, run
    assert run.record["status"] == "succeeded"
    assert run.record["params"]["provider"] == "openai"
    assert {name: p["status"] for name, p in run.record["phases"].items()} == {
        "solve": "succeeded",
        "check": "succeeded",
    }
    requests = chat_server.requests
    assert [r["path"] for r in requests] == ["/v1/chat/completions"] * 4
    assert {r["json"]["model"] for r in requests} == {"test-model"}
    assert {r["json"]["temperature"] for r in requests} == {0}
    assert all("Authorization" not in r["headers"] for r in requests)  # no key configured
    first = requests[0]["json"]["messages"]
    assert [m["role"] for m in first] == ["system", "user"]
    assert first[1]["content"].startswith("Task: A unit test of the Python project in the folder")
    # The model is shown what really happened in the workspace: a failing test, then none.
    assert requests[1]["json"]["messages"][-1]["content"].startswith("exit code: 1\n")
    assert "FAILED (failures=1)" in requests[1]["json"]["messages"][-1]["content"]
    assert requests[2]["json"]["messages"][-1]["content"] == "exit code: 0"
    assert requests[3]["json"]["messages"][-1]["content"].endswith("\nOK")
    outputs = run.outputs("solve")
    assert [(o["success"], o["done"]) for o in outputs] == [
        (False, False),
        (True, False),
        (True, False),
        (True, True),
    ]
    assert [o["usage"]["prompt_tokens"] for o in outputs] == [100, 200, 300, 400]
    [check] = run.outputs("check")
    assert check["success"] is True
    assert check["output"].endswith("\nOK")
    assert_nothing_left(run)


def test_agent_loop_check_does_not_take_the_models_word(
    tmp_path: Path, chat_server: ChatServer
) -> None:
    """A model that claims success without fixing anything ends `solve`; `check` fails it."""
    chat_server.answers.append("The tests pass now. DONE")
    run = run_wfrun(tmp_path, AGENT_LOOP, *_openai_params(chat_server))
    assert run.code == 1, run
    assert run.record["status"] == "failed"
    assert {name: p["status"] for name, p in run.record["phases"].items()} == {
        "solve": "succeeded",
        "check": "failed",
    }
    [check] = run.outputs("check")
    assert "FAILED (failures=1)" in check["output"]
    assert len(chat_server.requests) == 1
    assert_nothing_left(run)
