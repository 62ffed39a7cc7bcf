"""`workspace`: real temp dirs, real copies, real git."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from builtin_helpers import started

from wfrun.builtins.errors import WorkspaceError
from wfrun.builtins.workspace import PREFIX, Workspace, WorkspaceConfig, cleanup
from wfrun.engine.api import ResourceContext

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., ResourceContext]


def make(ctx: ResourceContext, **config: object) -> Workspace:
    return Workspace(WorkspaceConfig.model_validate(config), ctx)


@pytest.fixture
def app(flow_dir: Path) -> Path:
    (flow_dir / "app" / "public").mkdir(parents=True)
    (flow_dir / "app" / "server.py").write_text("print('hi')\n")
    (flow_dir / "app" / "public" / "index.txt").write_text("index\n")
    (flow_dir / "notes.txt").write_text("notes\n")
    return flow_dir / "app"


def test_copies_keep_their_layout_and_stop_removes_the_dir(
    resource_ctx: MakeCtx, app: Path
) -> None:
    workspace = make(resource_ctx("code"), copy=["app/", "notes.txt"])
    with started(workspace) as attributes:
        path = Path(attributes["path"])
        assert path.name.startswith(f"{PREFIX}code-")
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert (path / "app" / "server.py").read_text() == "print('hi')\n"
        assert (path / "app" / "public" / "index.txt").read_text() == "index\n"
        assert (path / "notes.txt").read_text() == "notes\n"
        assert workspace.journal() == {"path": str(path), "keep": False}
    assert not path.exists()
    workspace.stop()  # idempotent
    assert workspace.journal() == {}


def test_paths_outside_the_workflow_folder_are_refused(
    resource_ctx: MakeCtx, flow_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("s3cret\n")
    (flow_dir / "link").symlink_to(tmp_path / "secret.txt")
    for entry in ("../secret.txt", "link", str(tmp_path / "secret.txt")):
        workspace = make(resource_ctx(), copy=[entry])
        with pytest.raises(WorkspaceError) as caught:
            workspace.start()
        assert str(caught.value) == (
            f"copy: {entry!r} resolves to {tmp_path / 'secret.txt'}, outside the workflow "
            f"folder {flow_dir}; move it into the folder, or set allow_outside: true"
        )
        assert workspace.path is None  # refused before anything was made
    workspace = make(resource_ctx(), copy=["../secret.txt"], allow_outside=True)
    with started(workspace) as attributes:
        assert (Path(attributes["path"]) / "secret.txt").read_text() == "s3cret\n"


def test_a_symlink_inside_a_copied_folder_stays_a_link(
    resource_ctx: MakeCtx, app: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("outside\n")
    (app / "escape").symlink_to(tmp_path / "outside.txt")
    with started(make(resource_ctx(), copy=["app"])) as attributes:
        copied = Path(attributes["path"]) / "app" / "escape"
        assert copied.is_symlink()
    assert (tmp_path / "outside.txt").exists()  # removing the workspace left the target alone


def test_copying_the_whole_folder_skips_run_records(resource_ctx: MakeCtx, app: Path) -> None:
    runs = app.parent / ".wfrun" / "runs"
    runs.mkdir(parents=True)
    (runs / "event.jsonl").write_text("{}")
    with started(make(resource_ctx(), copy=["."])) as attributes:
        path = Path(attributes["path"])
        assert sorted(p.name for p in path.iterdir()) == ["app", "notes.txt"]


def test_a_missing_source_is_a_clear_error(resource_ctx: MakeCtx, flow_dir: Path) -> None:
    workspace = make(resource_ctx(), copy=["nope/"])
    with pytest.raises(WorkspaceError, match=r"^copy: 'nope/' does not exist \(looked for "):
        workspace.start()
    workspace.stop()


def test_git_commits_the_copy_without_any_git_config(
    resource_ctx: MakeCtx, app: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    environ = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_GLOBAL": os.devnull}
    workspace = make(resource_ctx(environ=environ), copy=["app/"], git=True)
    with started(workspace) as attributes:
        path = Path(attributes["path"])

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=path, env=environ, capture_output=True, text=True, check=True
            ).stdout

        assert (
            git("log", "--format=%an <%ae> %s") == "wfrun <wfrun@localhost> wfrun: initial copy\n"
        )
        assert git("status", "--porcelain") == ""
        assert git("ls-files").split() == ["app/public/index.txt", "app/server.py"]
        (path / "app" / "server.py").write_text("print('patched')\n")
        assert "-print('hi')" in git("diff")


def test_keep_leaves_the_dir_and_cleanup_respects_it(resource_ctx: MakeCtx) -> None:
    workspace = make(resource_ctx(), keep=True)
    path = Path(workspace.start()["path"])
    entry = dict(workspace.journal())
    workspace.stop()
    try:
        assert path.is_dir()
        assert cleanup(entry) == f"kept {path} (keep: true)"
        assert path.is_dir()
    finally:
        cleanup({**entry, "keep": False})
    assert not path.exists()


def test_cleanup_removes_a_leftover_even_if_read_only(resource_ctx: MakeCtx) -> None:
    workspace = make(resource_ctx())
    path = Path(workspace.start()["path"])
    entry = dict(workspace.journal())  # as a hard kill would leave it: never stopped
    (path / "sub").mkdir()
    (path / "sub" / "file").write_text("x")
    (path / "sub").chmod(0o500)
    assert cleanup(entry) == f"removed {path}"
    assert not path.exists()
    assert cleanup(entry) == f"{path} was already removed"
    workspace.stop()  # the engine's own stop after cleanup is harmless


def test_cleanup_leaves_what_does_not_look_like_a_workspace(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    message = cleanup({"path": str(precious)})
    assert message == f"left {precious} alone: it does not look like a wfrun workspace"
    assert precious.is_dir()
    assert cleanup({}) == "nothing to clean up"
