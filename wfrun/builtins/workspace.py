"""`workspace`: a fresh temporary directory with files copied in."""

from __future__ import annotations

from pydantic import Field

from wfrun.builtins.config import Config
from wfrun.registry import TypeSpec


class WorkspaceConfig(Config):
    """A temp dir, removed on stop unless `keep`."""

    copy_: list[str] = Field(
        default_factory=list,
        alias="copy",
        description="files or folders, relative to the workflow file",
    )
    git: bool = Field(False, description="git init and commit the copy, so agents can diff")
    keep: bool = Field(False, description="leave the directory behind when the run ends")
    allow_outside: bool = Field(
        False, description="allow copying paths outside the workflow's folder"
    )


TYPES = [
    TypeSpec(
        kind="resource",
        name="workspace",
        config=WorkspaceConfig,
        attributes=("path",),
        doc="A fresh temporary directory with files copied in; removed on stop.",
    )
]
