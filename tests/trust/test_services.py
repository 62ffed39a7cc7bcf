"""Trust the verdict: a service is its own process, its death is noticed, ports never
collide, and the paths resources hand out work from anywhere (issue 12).

Everything goes through the real CLI on real files, real processes and real sockets on
127.0.0.1: `wfrun run` as a subprocess where processes and timing matter.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import WfrunProject
from tests.engine.conftest import EngineProject
from wfrun.engine import procs

REPO = Path(__file__).resolve().parent.parent.parent
EXPLOIT = REPO / "workflows" / "exploit-and-patch" / "workflow.yaml"

# A service on the port given as argv[1]: answers "service" to every connection. Told
# to, it dies of a failure of its own (exit 3, after saying why in its log).
SERVICE = """
import os, socket, sys, threading, time
port, trigger = int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None
server = socket.create_server(("127.0.0.1", port))
print("service listening on", port, flush=True)

def answer():
    while True:
        conn, _ = server.accept()
        conn.sendall(b"service\\n")
        conn.close()

threading.Thread(target=answer, daemon=True).start()
while not (trigger and os.path.exists(trigger)):
    time.sleep(0.05)
print("disk on fire: giving up", flush=True)
sys.exit(3)
"""

# Waits for the service to answer, then for it to stop answering (the gate before `late`:
# a first refusal could come before the service ever started).
WAIT_UP_THEN_DOWN = (
    "import socket, sys, time\\n"
    "def up():\\n"
    "  try: socket.create_connection(('127.0.0.1', int(sys.argv[1]))).close(); return True\\n"
    "  except OSError: return False\\n"
    "for want in (True, False):\\n"
    "  for _ in range(400):\\n"
    "    if up() == want: break\\n"
    "    time.sleep(0.05)\\n"
    "  else: sys.exit(1)"
)

# A client that reads what answers on the port and succeeds whatever it is.
CLIENT = (
    "import socket, sys; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
    " print('talked to', s.recv(100).decode().strip())"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stranger() -> Iterator[Callable[[int], subprocess.Popen[bytes]]]:
    """Another program, not the run's, listening on a port (stopped afterwards)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(port: int) -> subprocess.Popen[bytes]:
        code = (
            f"import socket; s = socket.create_server(('127.0.0.1', {port})); print('up', flush=True)\n"
            "while True:\n    c, _ = s.accept(); c.sendall(b'stranger\\n'); c.close()"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"up\n"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.communicate()  # reaps it and closes its pipe


@pytest.fixture
def project(tmp_path: Path) -> EngineProject:
    """A folder to run `wfrun` in as a real subprocess (tests/engine's harness)."""
    return EngineProject(tmp_path)


# -- 1. ready means *its own* process is ------------------------------------------------


def test_a_service_whose_port_a_stranger_holds_fails_to_start(
    project: EngineProject, stranger: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    other = stranger(port)
    (project.path / "service.py").write_text(SERVICE)
    project.write(f"""
        version: 1
        name: stranger
        resources:
          app:
            type: process
            with:
              command: [{sys.executable}, service.py, "{port}"]
              ready: {{tcp: "127.0.0.1:{port}", timeout: 20}}
        agents:
          client:
            type: check
            requires: [app]
            with: {{run: [{sys.executable}, -c, "{CLIENT}", "{port}"]}}
        phases:
          use: {{agents: [client], max_iterations: 1}}
    """)
    result = project.run("run", "flow.yaml")
    assert result.code == 1, result
    phase = result.record["phases"]["use"]
    assert phase["status"] == "failed", result
    reason = phase["reason"]
    assert f"port {port} is held by another process (pid {other.pid}," in reason, reason
    assert "not by service 'app'" in reason, reason
    assert "exited with code 1" in reason, reason  # the service's own verdict...
    assert "Address already in use" in reason, reason  # ...and its log says why
    assert result.kinds("agent_output") == [], "the phase talked to the stranger"
    [failed] = result.kinds("resource_failed")
    assert failed["resource"] == "app"
    assert other.poll() is None, "the stranger is not wfrun's to stop"
    project.assert_nothing_left(result)


# -- 2. a service that dies while phases need it is noticed ------------------------------


def test_a_service_that_dies_fails_the_phases_holding_it_and_later_ones(
    project: EngineProject,
) -> None:
    port = free_port()
    (project.path / "service.py").write_text(SERVICE)
    trigger = project.path / "trigger"
    # `first` makes the service die, then would take 20 s; `late` starts after the death
    # (its need waits for it) and holds the same, dead, service.
    project.write(f"""
        version: 1
        name: dies
        execution: graph
        resources:
          app:
            type: process
            with:
              command: [{sys.executable}, service.py, "{port}", "{trigger}"]
              ready: {{tcp: "127.0.0.1:{port}", timeout: 20}}
        agents:
          killer:
            type: check
            requires: [app]
            with: {{run: [sh, -c, "touch {trigger}; sleep 20"]}}
          waiter:
            type: check
            with:
              run: [{sys.executable}, -c, "{WAIT_UP_THEN_DOWN}", "{port}"]
          user:
            type: check
            requires: [app]
            with: {{run: [{sys.executable}, -c, "{CLIENT}", "{port}"]}}
        phases:
          first: {{agents: [killer], max_iterations: 1}}
          gate: {{agents: [waiter], max_iterations: 1}}
          late: {{agents: [user], needs: [gate], max_iterations: 1}}
    """)
    began = time.monotonic()
    result = project.run("run", "flow.yaml")
    assert result.code == 1, result
    assert time.monotonic() - began < 15, "the phase holding the dead service ran on"
    [failed] = result.kinds("resource_failed")
    assert failed["resource"] == "app"
    assert failed["error"].startswith("service 'app' exited with code 3"), failed
    assert "disk on fire" in failed["error"], failed
    phases = result.record["phases"]
    for name in ("first", "late"):
        assert phases[name]["status"] == "failed", (name, result.record)
        assert phases[name]["reason"].startswith("service 'app' exited with code 3"), phases
        assert "disk on fire" in phases[name]["reason"]
    assert phases["gate"]["status"] == "succeeded"
    assert not [e for e in result.kinds("agent_output") if e["phase"] == "late"]
    show = subprocess.run(
        project.command("show"),
        cwd=project.path,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert show.returncode == 0, show
    assert "service 'app' exited with code 3" in show.stdout, show.stdout
    project.assert_nothing_left(result)


# -- 3. port: auto ---------------------------------------------------------------------


def test_port_auto_validates_and_other_strings_are_positioned_errors(
    wfrun_project: Callable[..., WfrunProject],
) -> None:
    good = """
        version: 1
        resources:
          app:
            type: process
            with:
              command: [serve, --port, "${resources.app.port}"]
              port: auto
              ready: {tcp: "127.0.0.1:${resources.app.port}"}
        agents:
          a: {type: check, requires: [app], with: {run: [x, "${resources.app.port}"]}}
        phases:
          p: {agents: [a]}
    """
    project = wfrun_project({"good.yaml": good, "bad.yaml": good.replace("auto", "any")})
    project.run("validate", "good.yaml").assert_success()
    bad = project.run("validate", "bad.yaml")
    bad.assert_invalid()
    assert "bad.yaml:7:13:" in bad.out + bad.err, bad
    assert "expected a port number (1-65535) or auto, got 'any'" in bad.out + bad.err, bad


def test_port_auto_gives_a_free_port_the_resource_itself_reads(
    project: EngineProject,
) -> None:
    """Also: the socket may be held by any process of the service's group (here the
    child of a shell wrapper), and a stop by wfrun itself, mid-run, is no failure."""
    (project.path / "service.py").write_text(SERVICE)
    project.write(f"""
        version: 1
        name: auto
        resources:
          app:
            type: process
            with:
              command: [sh, -c, "{sys.executable} service.py ${{resources.app.port}}; exit 0"]
              port: auto
              ready: {{tcp: "127.0.0.1:${{resources.app.port}}", timeout: 20}}
        agents:
          client:
            type: check
            requires: [app]
            with: {{run: [{sys.executable}, -c, "{CLIENT}", "${{resources.app.port}}"]}}
          after: {{type: check, with: {{run: [sleep, "0.3"]}}}}
        phases:
          use: {{agents: [client], max_iterations: 1}}
          later: {{agents: [after], max_iterations: 1}}
    """)
    result = project.run("run", "flow.yaml")
    assert result.code == 0, result
    [started] = result.kinds("resource_started")
    port = started["attributes"]["port"]
    assert isinstance(port, int)
    assert port > 0
    assert result.run_dir is not None
    assert f"service listening on {port}" in (result.run_dir / "logs" / "app.log").read_text()
    [output, _] = result.kinds("agent_output")
    assert output["output"] == "talked to service"
    order = [(e["kind"], e.get("phase") or e.get("resource")) for e in result.events]
    assert order.index(("resource_stopped", "app")) < order.index(("phase_started", "later"))
    assert result.kinds("resource_failed") == [], "an orderly stop is not a failure"
    project.assert_nothing_left(result)


def _start_example(workdir: Path) -> subprocess.Popen[str]:
    workdir.mkdir()
    (workdir / "tmp").mkdir()
    env = {**os.environ, "NO_COLOR": "1", "TMPDIR": str(workdir / "tmp"), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "wfrun", "run", str(EXPLOIT), "--runs-dir", str(workdir / "runs")],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_copies_of_the_example_side_by_side_each_use_their_own_services(
    tmp_path: Path,
) -> None:
    procs_ = {name: _start_example(tmp_path / name) for name in ("one", "two")}
    results = {
        name: (*proc.communicate(timeout=120), proc.returncode) for name, proc in procs_.items()
    }
    ports: dict[str, dict[str, int]] = {}
    for name, (out, err, code) in results.items():
        assert code == 0, f"{name} exited {code}\n{out}\n{err}"
        [run_dir] = (tmp_path / name / "runs").iterdir()
        events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        ports[name] = {
            e["resource"]: e["attributes"]["port"]
            for e in events
            if e["kind"] == "resource_started" and "port" in e["attributes"]
        }
        # Each run's own servers saw its requests: the exploit, then the verification.
        for server in ("vulnerable", "patched"):
            log = (run_dir / "logs" / f"{server}.log").read_text()
            assert f"serving on 127.0.0.1:{ports[name][server]}" in log, log
            assert "GET /files/../secret.txt" in log, (name, server, log)
        for pid in [e["attributes"]["pid"] for e in events if e.get("attributes", {}).get("pid")]:
            assert not procs.is_alive(pid)
    used = [port for run in ports.values() for port in run.values()]
    assert len(set(used)) == 4, ports


# -- 4. paths resources hand out are absolute ------------------------------------------


def test_resource_paths_work_for_an_agent_with_a_cwd_of_its_own(
    wfrun_project: Callable[..., WfrunProject],
) -> None:
    reader = (
        "import json, os, sys; assert os.path.isabs(sys.argv[1]) and os.path.isabs(sys.argv[2]);"
        " print(json.load(open(sys.argv[1]))['k'], os.path.exists(sys.argv[2]))"
    )
    project = wfrun_project(
        {
            "elsewhere/.keep": "",
            "flow.yaml": f"""
            version: 1
            resources:
              m: {{type: memory, with: {{initial: {{k: remembered}}}}}}
              svc: {{type: process, with: {{command: [sleep, "30"], grace: 0.2}}}}
            agents:
              reader:
                type: check
                requires: [m, svc]
                with:
                  cwd: elsewhere
                  run: [{sys.executable}, -c, "{reader}", "${{resources.m.path}}", "${{resources.svc.log}}"]
            phases:
              read: {{agents: [reader], max_iterations: 1}}
        """,
        }
    )
    outcome = project.run("run", "flow.yaml")
    outcome.assert_success()
    assert "remembered True" in outcome.out, outcome
