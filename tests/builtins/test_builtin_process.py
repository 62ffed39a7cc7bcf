"""`process`: real services, real probes, and a real hard kill of the runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from builtin_helpers import (
    FORKING_SERVICE,
    alive,
    free_port,
    kill_leftovers,
    started,
    wait_dead,
    wait_for_file,
)

from wfrun.builtins.errors import ProcessError
from wfrun.builtins.process import Process, ProcessConfig, cleanup
from wfrun.engine import procs
from wfrun.engine.api import ResourceContext

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., ResourceContext]
PY = sys.executable


def make(ctx: ResourceContext, **config: object) -> Process:
    return Process(ProcessConfig.model_validate({"grace": 0.3, **config}), ctx)


@pytest.fixture
def service(flow_dir: Path) -> Iterator[Path]:
    """The forking service; whatever a failing test leaves of it is killed afterwards."""
    path = flow_dir / "service.py"
    path.write_text(FORKING_SERVICE)
    yield path
    kill_leftovers(flow_dir / "pids")


def test_a_forking_service_is_ready_and_leaves_nothing_behind(
    resource_ctx: MakeCtx, service: Path, run_dir: Path, flow_dir: Path
) -> None:
    port = free_port()
    pid_file = flow_dir / "pids"
    noted: list[dict[str, object]] = []
    process: Process
    process = make(
        resource_ctx("app", journal_changed=lambda: noted.append(dict(process.journal()))),
        command=[PY, "service.py", str(pid_file), port],
        ready={"tcp": f"127.0.0.1:{port}", "timeout": 10},
        env={"GREETING": "hi"},
    )
    with started(process) as attributes:
        pid = attributes["pid"]
        assert attributes == {"pid": pid, "port": port, "log": str(run_dir / "logs" / "app.log")}
        children = [int(p) for p in pid_file.read_text().split()]
        assert all(alive(p) for p in [pid, *children])
        assert noted[0]["pid"] == pid  # journalled before the readiness wait
        assert process.journal() == {
            "pid": pid,
            "pgid": pid,
            "start_time": procs.start_time(pid),
            "boot_id": procs.boot_id(),
            "command": PY,
            "grace": 0.3,
        }
    assert wait_dead([pid, *children]) == [], "a process of the service survived stop"
    assert "listening" in (run_dir / "logs" / "app.log").read_text()
    process.stop()  # idempotent


def test_environment_and_cwd(resource_ctx: MakeCtx, flow_dir: Path, run_dir: Path) -> None:
    (flow_dir / "sub").mkdir()
    code = "import os, time; print(os.getcwd(), os.environ['GREETING'], flush=True); time.sleep(60)"
    process = make(
        resource_ctx("env"),
        command=[PY, "-c", code],
        cwd="sub",
        env={"GREETING": 42},
        ready={"command": ["grep", "-q", "42", str(run_dir / "logs" / "env.log")]},
    )
    with started(process):
        assert (run_dir / "logs" / "env.log").read_text() == f"{flow_dir / 'sub'} 42\n"


def test_a_service_that_exits_fails_fast_with_its_log(resource_ctx: MakeCtx) -> None:
    code = "import sys; print('config missing: db.yaml', flush=True); sys.exit(3)"
    process = make(
        resource_ctx("bad"),
        command=[PY, "-c", code],
        ready={"tcp": f"127.0.0.1:{free_port()}", "timeout": 30},
    )
    began = time.monotonic()
    with pytest.raises(ProcessError) as caught:
        process.start()
    assert time.monotonic() - began < 5
    message = str(caught.value)
    assert "exited with code 3 before it was ready" in message
    assert message.endswith("last lines of " + str(process.log_path) + ":\nconfig missing: db.yaml")
    process.stop()


def test_a_probe_timeout_stops_the_service(resource_ctx: MakeCtx, service: Path) -> None:
    pid_file = service.parent / "pids"
    port = free_port()
    process = make(
        resource_ctx("slow"),
        command=[PY, str(service), str(pid_file)],  # forks, never listens
        ready={"http": f"http://127.0.0.1:{port}/health", "timeout": 0.5},
    )
    with pytest.raises(ProcessError) as caught:
        process.start()
    message = str(caught.value)
    assert f"not ready after 0.5s: GET http://127.0.0.1:{port}/health failed" in message
    assert "forked" in message  # the log's last lines
    children = [int(p) for p in wait_for_file(pid_file).split()]
    assert wait_dead(children) == []


def test_a_missing_command_is_a_clear_error(resource_ctx: MakeCtx) -> None:
    process = make(resource_ctx(), command=["wfrun-no-such-server"])
    with pytest.raises(ProcessError) as caught:
        process.start()
    assert str(caught.value) == (
        "cannot run 'wfrun-no-such-server': no such command (is it installed and on PATH?)"
    )
    process.stop()


def test_http_probe_passes_against_a_real_server(resource_ctx: MakeCtx, flow_dir: Path) -> None:
    port = free_port()
    (flow_dir / "index.html").write_text("ok")
    process = make(
        resource_ctx("web"),
        command=[PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready={"http": f"http://127.0.0.1:{port}/index.html", "timeout": 10},
    )
    with started(process) as attributes:
        assert attributes["port"] == port  # no `port:` given: the probe's
    assert not alive(attributes["pid"])


RUNNER = """
import json, sys, time
from pathlib import Path
from wfrun.builtins.process import Process, ProcessConfig
from wfrun.engine.api import ResourceContext

flow, run = Path(sys.argv[1]), Path(sys.argv[2])
ctx = ResourceContext(name="svc", run_dir=run, base_dir=flow, environ={"PATH": "/usr/bin:/bin"})
config = ProcessConfig(command=[sys.executable, "service.py", str(flow / "pids")], grace=0.3)
process = Process(config, ctx)
process.start()
print(json.dumps(dict(process.journal())), flush=True)
time.sleep(600)
"""


def test_cleanup_after_a_hard_kill_of_the_runner(
    flow_dir: Path, run_dir: Path, service: Path
) -> None:
    runner = subprocess.Popen(
        [PY, "-c", RUNNER, str(flow_dir), str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        entry = json.loads(runner.stdout.readline())  # type: ignore[union-attr]
        children = [int(p) for p in wait_for_file(flow_dir / "pids").split()]
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        runner.stdout.close()  # type: ignore[union-attr]
    pids = [entry["pid"], *children]
    assert all(alive(pid) for pid in pids), "the service should outlive its runner"
    assert (
        cleanup(json.loads(json.dumps(entry)))
        == f"stopped process group {entry['pid']} (5 process(es))"
    )
    assert wait_dead(pids) == []
    assert cleanup(entry) == f"pid {entry['pid']} and its group are gone"


def test_cleanup_stops_the_orphans_of_a_dead_leader(resource_ctx: MakeCtx, service: Path) -> None:
    pid_file = service.parent / "pids"
    process = make(resource_ctx(), command=[PY, str(service), str(pid_file)])
    with started(process) as attributes:
        children = [int(p) for p in wait_for_file(pid_file).split()]
        entry = dict(process.journal())
        os.kill(attributes["pid"], signal.SIGKILL)  # the leader dies; its children do not
        assert wait_dead([attributes["pid"]]) == []
        assert all(alive(p) for p in children)
        assert cleanup(entry) == (
            f"pid {attributes['pid']} was gone; stopped 4 leftover process(es) of its group"
        )
        assert wait_dead(children) == []


def test_cleanup_never_touches_a_reused_pid(resource_ctx: MakeCtx) -> None:
    process = make(resource_ctx(), command=["sleep", "60"])
    with started(process) as attributes:
        entry = dict(process.journal())
        stranger = {**entry, "start_time": entry["start_time"] - 1}  # same pid, other process
        message = cleanup(stranger)
        assert message == f"left pid {attributes['pid']} alone: it is now a different process"
        assert alive(attributes["pid"])
        assert cleanup({**entry, "boot_id": "another-boot"}).endswith("nothing left to stop")
        assert alive(attributes["pid"])
        assert "no start time" in cleanup({**entry, "start_time": None})
        assert alive(attributes["pid"])
    assert cleanup({}) == "nothing to clean up"
