"""`container`: the real docker CLI against a real Docker Engine (`make test` starts one,
tests/docker_engine.py; in CI a missing engine fails these tests, elsewhere they skip).
The image is built offline from busybox-static: no registry is needed."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.docker_engine import IMAGE, containers, remove, require_engine
from tests.engine.conftest import EngineProject, RunResult
from wfrun.builtins.container import Container, ContainerConfig, cleanup, reason
from wfrun.builtins.errors import ContainerError
from wfrun.engine.api import ResourceContext

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., ResourceContext]


def make(ctx: ResourceContext, **config: object) -> Container:
    return Container(ContainerConfig.model_validate(config), ctx)


def test_no_reachable_engine_is_a_clear_error(resource_ctx: MakeCtx, tmp_path: Path) -> None:
    require_engine()  # the docker client, pointed at a socket nobody serves
    environ = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'nobody.sock'}"}
    container = make(resource_ctx("box", environ=environ), image=IMAGE)
    with pytest.raises(ContainerError) as caught:
        container.start()
    prefix = "docker is installed but no engine is reachable (is the daemon running?): "
    message = str(caught.value)
    assert message.startswith(prefix)
    assert len(message) > len(prefix)  # and docker's own reason, e.g. "Cannot connect to ..."
    assert container.journal() == {}  # nothing was created, so nothing to clean up
    container.stop()


def test_a_missing_cli_is_a_clear_error(resource_ctx: MakeCtx) -> None:
    container = make(resource_ctx(), image="alpine:3", engine="wfrun-no-such-engine")
    with pytest.raises(ContainerError) as caught:
        container.start()
    assert str(caught.value) == (
        "wfrun-no-such-engine is not installed (no 'wfrun-no-such-engine' on PATH); "
        "install it or set engine:"
    )


def test_run_arguments(resource_ctx: MakeCtx, flow_dir: Path, run_dir: Path) -> None:
    container = make(
        resource_ctx("db"),
        image="postgres:16",
        command=["postgres", "-c", "fsync=off"],
        env={"POSTGRES_PASSWORD": "hunter2"},
        network="bridge",
        ports=["5432:5432"],
        mounts=[{"source": "data", "target": "/data", "read_only": True}],
        workdir="/srv",
    )
    argv = container._run_argv()
    assert container.name.startswith("wfrun-db-")
    assert argv == [
        "docker", "run", "-d", "--name", container.name,
        "--label", f"wfrun.run={run_dir.name}", "--label", "wfrun.resource=db",
        "--network", "bridge", "-p", "5432:5432", "-e", "POSTGRES_PASSWORD",
        "-v", f"{flow_dir / 'data'}:/data:ro", "-w", "/srv",
        "postgres:16", "postgres", "-c", "fsync=off",
    ]  # fmt: skip
    assert "hunter2" not in " ".join(argv)  # values travel in the environment, not argv


def test_cleanup_needs_a_name() -> None:
    assert cleanup({}) == "nothing to clean up"


def test_docker_s_reason_is_kept_and_its_advice_dropped() -> None:
    stderr = (
        "docker: Error response from daemon: failed to create shim task: exec: "
        '"nope": executable file not found in $PATH: unknown\n\n'
        "Run 'docker run --help' for more information\n"
    )
    assert reason(stderr) == (
        "docker: Error response from daemon: failed to create shim task: exec: "
        '"nope": executable file not found in $PATH: unknown'
    )


# -- against the real engine, through the CLI ---------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Iterator[EngineProject]:
    """A project whose runs' containers are all removed afterwards, whatever happened."""
    require_engine()
    made = EngineProject(tmp_path)
    yield made
    runs = made.path / ".wfrun" / "runs"
    for run in runs.iterdir() if runs.is_dir() else []:
        remove(containers(f"wfrun.run={run.name}"))


def left(result: RunResult) -> list[str]:
    """The containers of this run still known to the engine (running or not)."""
    assert result.run_dir is not None, result
    return containers(f"wfrun.run={result.run_dir.name}")


SERVE = """
version: 1
resources:
  site: {type: workspace}
  web:
    type: container
    needs: [site]
    with:
      image: IMAGE
      network: host
      port: auto
      command: [httpd, -f, -p, "127.0.0.1:${resources.web.port}", -h, /srv]
      mounts: [{source: "${resources.site.path}", target: /srv, read_only: true}]
      user: "65534"
      cpus: 0.5
      memory: 64m
      stop_grace: 1
      ready: {http: "http://127.0.0.1:${resources.web.port}/index.html", timeout: 60}
agents:
  page: {type: shell, requires: [site], with: {run: "echo served > index.html && chmod 755 . && chmod 644 index.html", shell: true,
         cwd: "${resources.site.path}"}}
  fetch:
    type: shell
    requires: [web]
    with:
      run: [python3, -c, "import sys, urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode().strip())",
            "http://127.0.0.1:${resources.web.port}/index.html"]
  inspect:
    type: shell
    requires: [web]
    with:
      run: [docker, inspect, -f, "{{.HostConfig.NetworkMode}} {{.Config.User}} {{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{index .Config.Labels \\"wfrun.resource\\"}}", "${resources.web.name}"]
phases:
  write: {agents: [page]}
  serve: {agents: [fetch]}
  look: {agents: [inspect]}
"""


def test_a_container_serves_on_the_host_network_and_is_removed(project: EngineProject) -> None:
    project.write(SERVE.replace("IMAGE", IMAGE))
    result = project.run("run", "flow.yaml", "--json", timeout=120)
    assert result.code == 0, result
    outputs = {e["agent"]: e["output"] for e in result.events if e["kind"] == "agent_output"}
    assert outputs["fetch"] == "served"
    assert outputs["inspect"] == f"host 65534 500000000 {64 * 2**20} web"
    assert left(result) == []  # stopped and removed: nothing with the run's label


def test_a_failed_run_says_docker_s_real_reason(project: EngineProject) -> None:
    project.write(
        f"""
        version: 1
        resources:
          box: {{type: container, with: {{image: {IMAGE}, command: [no-such-program]}}}}
        agents:
          user: {{type: shell, requires: [box], with: {{run: ["true"]}}}}
        phases:
          only: {{agents: [user]}}
        """
    )
    result = project.run("run", "flow.yaml", timeout=120)
    assert result.code == 1, result
    failed = [e for e in result.events if e["kind"] == "resource_failed"]
    assert failed, result
    error = failed[0]["error"]
    assert f"docker run {IMAGE} failed: " in error, error
    assert "no-such-program" in error, error
    assert "executable file not found" in error, error
    assert "--help" not in error, error
    assert left(result) == []  # the created-but-never-started container is removed too


def test_ready_only_when_the_container_itself_holds_the_port(project: EngineProject) -> None:
    """A host process already listens on the probed port: the probe passes, but the
    socket is not the container's, so the start fails and says who holds it."""
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        project.write(
            f"""
            version: 1
            resources:
              box:
                type: container
                with:
                  image: {IMAGE}
                  network: host
                  port: {port}
                  command: [sleep, "300"]
                  stop_grace: 0
                  ready: {{tcp: "127.0.0.1:{port}", timeout: 30}}
            agents:
              user: {{type: shell, requires: [box], with: {{run: ["true"]}}}}
            phases:
              only: {{agents: [user]}}
            """
        )
        result = project.run("run", "flow.yaml", timeout=120)
    assert result.code == 1, result
    error = next(e["error"] for e in result.events if e["kind"] == "resource_failed")
    assert f"is not what answers: port {port} is held by another process" in error, error
    assert left(result) == []


def test_stop_gives_a_grace_then_kills(project: EngineProject) -> None:
    """`sleep` as the container's first process ignores SIGTERM: the stop waits
    stop_grace, then kills; a shell that exits on TERM stops at once."""
    project.write(
        f"""
        version: 1
        resources:
          deaf: {{type: container, with: {{image: {IMAGE}, command: [sleep, "300"], stop_grace: 2}}}}
          polite:
            type: container
            with:
              image: {IMAGE}
              command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
              stop_grace: 30
        agents:
          a: {{type: shell, requires: [deaf], with: {{run: ["true"]}}}}
          b: {{type: shell, requires: [polite], with: {{run: ["true"]}}}}
        phases:
          one: {{agents: [a]}}
          two: {{agents: [b]}}
        """
    )
    began = time.monotonic()
    result = project.run("run", "flow.yaml", timeout=180)
    assert result.code == 0, result
    assert time.monotonic() - began < 30, result  # polite did not wait out its 30 s
    stops = {e["resource"]: e for e in result.events if e["kind"] == "resource_stopped"}
    assert set(stops) == {"deaf", "polite"}, result
    assert left(result) == []


def test_env_values_reach_the_container_and_secrets_stay_masked(
    project: EngineProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOX_TOKEN", "tok-7f3a9c")
    project.write(
        f"""
        version: 1
        secrets: [BOX_TOKEN]
        resources:
          out: {{type: workspace}}
          box:
            type: container
            needs: [out]
            with:
              image: {IMAGE}
              command: [sh, -c, 'echo "$TOKEN" > /out/token; exec sleep 300']
              env: {{TOKEN: "${{env.BOX_TOKEN}}"}}
              mounts: [{{source: "${{resources.out.path}}", target: /out}}]
              stop_grace: 0
              ready: {{command: [test, -s, /out/token], timeout: 30}}
        agents:
          show: {{type: shell, requires: [box, out], with: {{run: [cat, "${{resources.out.path}}/token"]}}}}
        phases:
          only: {{agents: [show]}}
        """
    )
    result = project.run("run", "flow.yaml", "--json", timeout=120)
    assert result.code == 0, result
    output = next(e["output"] for e in result.events if e["kind"] == "agent_output")
    assert output == "***"  # the container had the value; wfrun shows it masked
    assert "tok-7f3a9c" not in result.out + result.err
    assert result.run_dir is not None
    assert "tok-7f3a9c" not in (result.run_dir / "events.jsonl").read_text()
    assert left(result) == []


def test_cleanup_removes_a_leftover_container(
    resource_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_engine()
    container = make(resource_ctx(), image=IMAGE, command=["sleep", "300"], stop_grace=0)
    container.start()
    entry = dict(container.journal())
    assert entry["run"] == container.ctx.run_dir.name
    host = container.ctx.environ.get("DOCKER_HOST")
    assert entry.get("docker_host") == host  # the journal says where the engine is
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert cleanup(entry) == f"removed container {container.name}"
    if host:
        monkeypatch.setenv("DOCKER_HOST", host)
    assert containers(f"wfrun.run={entry['run']}") == []
    container.stop()  # already gone: fine
