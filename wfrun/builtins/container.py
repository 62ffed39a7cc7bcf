"""`container`: a container run through the docker CLI."""

from __future__ import annotations

from pydantic import Field

from wfrun.builtins.config import Argv, Config, ReadyProbe, Text
from wfrun.registry import TypeSpec


class Mount(Config):
    """A host path (often `${resources.ws.path}`) mounted into the container."""

    source: str
    target: str
    read_only: bool = False


class ContainerConfig(Config):
    """`docker run -d` on start, `docker rm -f` on stop."""

    image: str = Field(min_length=1, description="image reference, e.g. python:3.12-slim")
    command: Argv = Field(default_factory=list, description="argv (default: the image's)")
    env: dict[str, Text] = Field(default_factory=dict, description="environment variables")
    ports: list[Text] = Field(
        default_factory=list, description="published ports, HOST:CONTAINER as for docker -p"
    )
    mounts: list[Mount] = Field(default_factory=list, description="bind mounts")
    workdir: str | None = Field(None, description="working directory inside the container")
    ready: ReadyProbe | None = Field(None, description="probe that says the service is up")
    engine: str = Field("docker", description="the CLI to call (docker or podman)")


TYPES = [
    TypeSpec(
        kind="resource",
        name="container",
        config=ContainerConfig,
        attributes=("id", "name"),
        doc="A container run through the docker CLI; removed on stop.",
    )
]
