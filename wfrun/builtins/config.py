"""Pieces shared by the built-in types' `with:` models."""

from __future__ import annotations

import difflib
import itertools
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from wfrun.registry import OnDisk


def _scalar_to_text(value: Any) -> Any:
    """`"${params.port}"` keeps the param's type; in argv and env it is text, as in a shell."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_scalar_to_text)]
Argv = list[Text]


class Config(BaseModel):
    """Base of every `with:` model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_HOST_PORT = re.compile(r"^(?P<host>[^:\s]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


class ReadyProbe(Config):
    """How to tell that a service is up: exactly one of `tcp`, `http` or `command`."""

    tcp: str | None = Field(None, description="host:port that must accept a connection")
    http: str | None = Field(None, description="URL that must answer 2xx")
    command: Argv | None = Field(None, description="argv that must exit 0")
    timeout: float = Field(10.0, gt=0, description="seconds to wait before giving up")
    interval: float = Field(0.05, gt=0, description="seconds between attempts")

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None and "${" not in value:
            match = _HOST_PORT.match(value)
            if match is None or not 0 < int(match["port"]) < 65536:
                msg = f"expected host:port such as 127.0.0.1:8080, got {value!r}"
                raise ValueError(msg)
        return value

    @field_validator("http")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "${")):
            msg = f"expected an http:// or https:// URL, got {value!r}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ReadyProbe:
        given = [name for name in ("tcp", "http", "command") if getattr(self, name) is not None]
        if len(given) != 1:
            msg = f"give exactly one of tcp, http or command (got {', '.join(given) or 'none'})"
            raise ValueError(msg)
        return self


class ExistingPath(OnDisk):
    """A file or folder relative to the workflow's folder, which must exist."""

    def problem(self, value: str, base_dir: Path) -> tuple[str, str] | None:
        target = base_dir / value
        if target.exists():
            return None
        folder = target.parent
        near = _close(target.name, _entries(folder)) if folder.is_dir() else ""
        hint = near or f"paths are relative to the workflow's folder, {base_dir}"
        return f"{value!r} does not exist (looked for {target})", hint


def _entries(folder: Path) -> list[str]:
    try:
        return [entry.name for entry in itertools.islice(folder.iterdir(), 200)]
    except OSError:
        return []


def _close(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""
