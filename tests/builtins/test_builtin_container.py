"""`container`: the real docker CLI. Runs a container where an engine answers; where the
client is installed without a daemon (as on many CI machines), checks the real error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from builtin_helpers import started

from wfrun.builtins.container import Container, ContainerConfig, cleanup
from wfrun.builtins.errors import ContainerError
from wfrun.engine.api import ResourceContext

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., ResourceContext]
DOCKER = shutil.which("docker")


def engine_reachable() -> bool:
    if DOCKER is None:
        return False
    done = subprocess.run([DOCKER, "info"], capture_output=True, timeout=20, check=False)
    return done.returncode == 0


REACHABLE = engine_reachable()
needs_engine = pytest.mark.skipif(
    not REACHABLE,
    reason="docker is installed but no engine is reachable (is the daemon running?)"
    if DOCKER
    else "docker is not installed",
)


def make(ctx: ResourceContext, **config: object) -> Container:
    return Container(ContainerConfig.model_validate(config), ctx)


@pytest.mark.skipif(DOCKER is None or REACHABLE, reason="needs a docker client without a daemon")
def test_no_reachable_engine_is_a_clear_error(resource_ctx: MakeCtx) -> None:
    container = make(resource_ctx("box"), image="alpine:3")
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
        ports=["5432:5432"],
        mounts=[{"source": "data", "target": "/data", "read_only": True}],
        workdir="/srv",
    )
    argv = container._run_argv()
    assert container.name.startswith("wfrun-db-")
    assert argv == [
        "docker", "run", "-d", "--name", container.name,
        "--label", f"wfrun.run={run_dir.name}", "--label", "wfrun.resource=db",
        "-p", "5432:5432", "-e", "POSTGRES_PASSWORD",
        "-v", f"{flow_dir / 'data'}:/data:ro", "-w", "/srv",
        "postgres:16", "postgres", "-c", "fsync=off",
    ]  # fmt: skip
    assert "hunter2" not in " ".join(argv)  # values travel in the environment, not argv


# A stand-in engine CLI for machines without a daemon: it keeps containers as JSON files
# and runs `exec` commands on the host. It checks wfrun's side of the CLI contract; the
# tests marked needs_engine check the real engine.
FAKE_ENGINE = """#!PYTHON
import json, os, subprocess, sys
from pathlib import Path

state = Path(os.environ["FAKE_ENGINE_STATE"])
args = sys.argv[1:]
command = args.pop(0)
if command == "info":
    sys.exit(0)
if command == "run":
    name = args[args.index("--name") + 1]
    image = next(a for i, a in enumerate(args) if ":" in a and args[i - 1] not in
                 ("--name", "--label", "-p", "-v", "-e", "-w") and not a.startswith("-"))
    if image == "missing:1":
        sys.exit("Unable to find image 'missing:1' locally")
    env = {args[i + 1]: os.environ.get(args[i + 1]) for i, a in enumerate(args) if a == "-e"}
    (state / name).write_text(json.dumps({"argv": sys.argv[1:], "env": env}))
    print("c0ffee" + name[-8:])
    sys.exit(0)
target = args[-1] if command in ("inspect", "logs", "rm") else None
if command == "exec":
    target = args[0]
    if not (state / target).exists():
        sys.exit(f"Error: No such container: {target}")
    sys.exit(subprocess.run(args[1:]).returncode)
if not (state / target).exists():
    sys.exit(f"Error: No such container: {target}")
if command == "inspect":
    print("true")
elif command == "logs":
    print("listening on 0.0.0.0:80")
elif command == "rm":
    (state / target).unlink()
    print(target)
"""


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    state = tmp_path / "engine-state"
    state.mkdir()
    cli = tmp_path / "fake-docker"
    cli.write_text(FAKE_ENGINE.replace("PYTHON", sys.executable))
    cli.chmod(0o755)
    monkeypatch.setenv("FAKE_ENGINE_STATE", str(state))
    return str(cli), state


def test_lifecycle_against_a_stand_in_cli(
    resource_ctx: MakeCtx, fake_engine: tuple[str, Path], flow_dir: Path
) -> None:
    cli, state = fake_engine
    flag = flow_dir / "up"
    container = make(
        resource_ctx("box"),
        image="alpine:3",
        command=["sleep", "300"],
        env={"TOKEN": "t0k"},
        ready={"command": ["test", "-e", str(flag)], "timeout": 0.3},
        engine=cli,
    )
    assert container.journal() == {}
    with pytest.raises(ContainerError) as caught:
        container.start()  # not ready: the probe's file is missing
    assert str(caught.value) == (
        f"container {container.name} (alpine:3) not ready after 0.3s: "
        f"`{cli} exec {container.name} test -e {flag}` exited 1"
        "\nlast lines of its log:\nlistening on 0.0.0.0:80"
    )
    assert container.journal() == {"name": container.name, "id": container.id, "engine": cli}
    container.stop()
    assert list(state.iterdir()) == []

    flag.touch()
    container = make(
        resource_ctx("box"),
        image="alpine:3",
        env={"TOKEN": "t0k"},
        ready={"command": ["test", "-e", str(flag)]},
        engine=cli,
    )
    with started(container) as attributes:
        assert attributes == {"id": "c0ffee" + container.name[-8:], "name": container.name}
        recorded = json.loads((state / container.name).read_text())
        assert recorded["env"] == {"TOKEN": "t0k"}
        entry = dict(container.journal())
    assert list(state.iterdir()) == []
    assert cleanup(entry) == f"container {container.name} was already gone"


def test_a_failed_run_says_why(resource_ctx: MakeCtx, fake_engine: tuple[str, Path]) -> None:
    cli, _ = fake_engine
    container = make(resource_ctx(), image="missing:1", engine=cli)
    with pytest.raises(ContainerError) as caught:
        container.start()
    assert (
        str(caught.value) == f"{cli} run missing:1 failed: Unable to find image 'missing:1' locally"
    )
    container.stop()  # rm -f of a container that never was: fine


def test_cleanup_needs_a_name() -> None:
    assert cleanup({}) == "nothing to clean up"


@needs_engine
def test_a_container_runs_and_is_removed(resource_ctx: MakeCtx, flow_dir: Path) -> None:
    (flow_dir / "hello.txt").write_text("hello\n")
    container = make(
        resource_ctx("box"),
        image="alpine:3",
        command=["sleep", "300"],
        mounts=[{"source": ".", "target": "/work", "read_only": True}],
        ready={"command": ["test", "-e", "/work/hello.txt"], "timeout": 60},
    )
    with started(container) as attributes:
        assert attributes["name"] == container.name
        out = subprocess.run(
            container.exec_argv("cat /work/hello.txt"), capture_output=True, text=True, check=True
        ).stdout
        assert out == "hello\n"
        entry = dict(container.journal())
        assert entry == {"name": container.name, "id": attributes["id"], "engine": "docker"}
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"name={container.name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.strip() == ""
    # Newer docker CLIs exit 0 for `rm -f` of a missing container; older ones say so.
    assert cleanup(entry) in {
        f"container {container.name} was already gone",
        f"removed container {container.name}",
    }


@needs_engine
def test_cleanup_removes_a_leftover_container(resource_ctx: MakeCtx) -> None:
    container = make(resource_ctx(), image="alpine:3", command=["sleep", "300"])
    container.start()
    entry = dict(container.journal())
    assert cleanup(entry) == f"removed container {container.name}"
    container.stop()
