"""`workspace`: a fresh temporary directory with files copied in."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from wfrun.builtins.config import Config, ExistingPath
from wfrun.builtins.errors import WorkspaceError
from wfrun.registry import TypeSpec

if TYPE_CHECKING:  # the engine's API: validate needs none of it
    from wfrun.engine.api import ResourceContext

PREFIX = "wfrun-ws-"
# A fixed identity through the environment: no global git config needed, none changed.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "wfrun",
    "GIT_AUTHOR_EMAIL": "wfrun@localhost",
    "GIT_COMMITTER_NAME": "wfrun",
    "GIT_COMMITTER_EMAIL": "wfrun@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _ignore(folder: str, names: list[str]) -> set[str]:
    """What a folder copy skips: run records, and workspaces (this one or another run's)
    when the temp dir lies inside the copied folder: `copy: [.]` never copies itself."""
    skipped = {".wfrun"} & set(names)
    if Path(folder).resolve() == Path(tempfile.gettempdir()).resolve():
        skipped.update(name for name in names if name.startswith(PREFIX))
    return skipped


GIT_OPTIONS = ["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]


class WorkspaceConfig(Config):
    """A temp dir, removed on stop unless `keep`."""

    copy_: list[Annotated[str, ExistingPath()]] = Field(
        default_factory=list,
        alias="copy",
        description="files or folders, relative to the workflow file",
    )
    git: bool = Field(False, description="git init and commit the copy, so agents can diff")
    keep: bool = Field(False, description="leave the directory behind when the run ends")
    allow_outside: bool = Field(
        False, description="allow copying paths outside the workflow's folder"
    )


class Workspace:
    """The live workspace; `path` is None until started and after it is removed."""

    def __init__(self, config: WorkspaceConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.path: Path | None = None

    def start(self) -> Mapping[str, Any]:
        sources = [self._source(entry) for entry in self.config.copy_]  # check before mkdir
        path = self._make_dir()
        for (source, relative), entry in zip(sources, self.config.copy_, strict=True):
            try:
                _copy(source, path / relative)
            except (OSError, shutil.Error) as exc:
                msg = f"copy: {entry!r} could not be copied into {self.path}: {exc}"
                raise WorkspaceError(msg) from exc
        if self.config.git:
            self._git_commit()
        return {"path": str(self.path)}

    def stop(self) -> None:
        if self.path is None:
            return
        if self.config.keep:
            self.ctx.log(f"workspace {self.ctx.name!r} kept at {self.path}")
        else:
            remove_tree(self.path)
        self.path = None

    def journal(self) -> Mapping[str, Any]:
        return {"path": str(self.path), "keep": self.config.keep} if self.path else {}

    def _make_dir(self) -> Path:
        """mkdtemp, but the name is journaled before the folder exists: a hard kill at
        any moment leaves nothing `wfrun cleanup` does not know about."""
        parent = Path(tempfile.gettempdir()).resolve()
        while True:
            self.path = parent / f"{PREFIX}{self.ctx.name}-{secrets.token_hex(6)}"
            self.ctx.journal_changed()
            try:
                self.path.mkdir(mode=0o700)
            except FileExistsError:  # someone else's: never ours to remove
                continue
            return self.path

    def _source(self, entry: str) -> tuple[Path, Path]:
        """The resolved source of a `copy:` entry and where it goes in the workspace."""
        base = self.ctx.base_dir.resolve()
        source = (base / entry).resolve()
        inside = source.is_relative_to(base)
        if not inside and not self.config.allow_outside:
            msg = (
                f"copy: {entry!r} resolves to {source}, outside the workflow folder {base}; "
                "move it into the folder, or set allow_outside: true"
            )
            raise WorkspaceError(msg)
        if not source.exists():
            msg = f"copy: {entry!r} does not exist (looked for {source})"
            raise WorkspaceError(msg)
        # Inside the folder the relative layout is kept (app/ -> <ws>/app); outside, the name.
        return source, source.relative_to(base) if inside else Path(source.name)

    def _git_commit(self) -> None:
        assert self.path is not None
        env = {**self.ctx.environ, **GIT_ENV}
        git = shutil.which("git", path=env.get("PATH"))
        if git is None:
            msg = "git: true needs the git command, which is not on PATH"
            raise WorkspaceError(msg)
        for args in (
            ["init", "-q"],
            ["add", "-A"],
            ["commit", "-q", "--no-verify", "--allow-empty", "-m", "wfrun: initial copy"],
        ):
            done = subprocess.run(
                [git, *GIT_OPTIONS, *args],
                cwd=self.path,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                msg = f"git {args[0]} failed in {self.path}: {done.stderr.strip()}"
                raise WorkspaceError(msg)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        # symlinks=True copies links as links: a link to /etc stays a link, never a copy.
        # Run records (.wfrun/) are never copied: `copy: [.]` must not copy the live run.
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, ignore=_ignore)
    else:
        shutil.copy2(source, target)


def remove_tree(path: Path) -> None:
    """Remove `path` even if an agent made parts of it read-only; gone already is fine.

    Never leaves the tree: a symlink is removed, never followed, and a mount point inside
    (a bind mount or a tmpfs an agent made) is never descended into: it is left, with
    everything else removed, and the error says so. Each folder is opened by a file
    descriptor relative to its parent (O_NOFOLLOW), so a folder swapped for a link
    while we work is not followed either.
    """
    if path.is_symlink():
        path.unlink()
        return
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    left: list[str] = []
    mounts = _mount_points()
    try:
        if str(path) in mounts:
            left.append(str(path))
        else:
            _remove_inside(top, os.fstat(top).st_dev, path, mounts, left)
    finally:
        os.close(top)
    if left:
        msg = f"left {', '.join(left)} in place: a mount point is never removed (unmount it)"
        raise WorkspaceError(msg)
    with contextlib.suppress(FileNotFoundError):
        path.rmdir()


def _remove_inside(
    dir_fd: int, device: int, shown: Path, mounts: frozenset[str], left: list[str]
) -> None:
    """Empty the folder open as `dir_fd`, staying on its filesystem; note what stays."""
    with contextlib.suppress(OSError):
        os.fchmod(dir_fd, stat.S_IRWXU)  # an agent may have made it read-only
    with os.scandir(dir_fd) as entries:
        names = [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
    for name, info in names:
        if not stat.S_ISDIR(info.st_mode):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)
            continue
        if info.st_dev != device or str(shown / name) in mounts:
            left.append(str(shown / name))
            continue
        try:
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
        except FileNotFoundError:
            continue
        before = len(left)
        try:
            _remove_inside(child, device, shown / name, mounts, left)
        finally:
            os.close(child)
        if len(left) == before:
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(name, dir_fd=dir_fd)


def _mount_points() -> frozenset[str]:
    """Every mount point (a bind mount of the same filesystem has the same st_dev)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:  # no /proc: st_dev still tells other filesystems apart
        return frozenset()
    points = (line.split()[4] for line in lines if len(line.split()) > 4)
    return frozenset(_unescape(point) for point in points)


def _unescape(point: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), point)


def cleanup(entry: Mapping[str, Any]) -> str:
    """Remove a workspace a hard kill left behind, if it still looks like one of ours."""
    raw = entry.get("path")
    if not raw:
        return "nothing to clean up"
    path = Path(raw)
    if entry.get("keep"):
        return f"kept {path} (keep: true)"
    if not path.name.startswith(PREFIX) or path.is_symlink():
        return f"left {path} alone: it does not look like a wfrun workspace"
    if not path.exists():
        return f"{path} was already removed"
    remove_tree(path)
    return f"removed {path}"


TYPES = [
    TypeSpec(
        kind="resource",
        name="workspace",
        config=WorkspaceConfig,
        factory=Workspace,
        cleanup=cleanup,
        attributes=("path",),
        doc="A fresh temporary directory with files copied in; removed on stop.",
    )
]
