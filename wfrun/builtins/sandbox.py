"""`in: RESOURCE`: an agent's commands run inside a container resource (`docker exec`).

Same semantics as on the host: the exit code, the output (stdout and stderr in order,
the tail kept), the timeout and the cancel switch. A timeout or Ctrl-C kills the command
inside the container too (and what it started there), not only the `docker exec` client;
a command that ends by itself takes what it left running with it, as a host session does.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from wfrun.builtins import capture
from wfrun.builtins.container import Container
from wfrun.builtins.errors import AgentSetupError
from wfrun.engine.api import AgentContext, Cancellation, LiveResource


def sandbox_of(name: str, ctx: AgentContext) -> Container:
    """The container resource `in:` names, among the agent's resources."""
    live: LiveResource | None = ctx.resources.get(name)
    if live is None:
        msg = (
            f"agent {ctx.name!r}: in: {name!r} is not among its resources "
            f"({', '.join(ctx.resources) or 'none'}); add it to requires:"
        )
        raise AgentSetupError(msg)
    if not isinstance(live, Container):
        msg = f"agent {ctx.name!r}: in: {name!r} is not a container resource"
        raise AgentSetupError(msg)
    return live


def run(
    container: Container,
    command: str,
    *,
    env: Mapping[str, str],
    passed: Sequence[str] = (),
    workdir: str | None = None,
    timeout: float | None = None,
    cancelled: Cancellation | None = None,
    max_output: int = 64_000,
    stdout_matches: str | None = None,
) -> capture.Captured:
    """Run a shell `command` in `container`; `passed` names the variables of `env` that
    go into the container (their values travel in the CLI's environment, not argv)."""
    mark = secrets.token_hex(8)
    argv = container.exec_argv(
        command, workdir=workdir, env=passed, mark=mark, merge_stderr=stdout_matches is None
    )
    return capture.run(
        argv,
        cwd=container.ctx.base_dir,
        env=env,
        timeout=timeout,
        cancelled=cancelled,
        max_output=max_output,
        stdout_matches=stdout_matches,
        on_kill=lambda: container.kill_marked(mark),
    )
