"""The frozen `Workflow` the planner and engine read, made from a valid document."""

from __future__ import annotations

from pathlib import Path

from wfrun.spec.document import PhaseDoc, RetryDoc, TemplateDoc, WorkflowDoc
from wfrun.spec.expr import parse as parse_expression
from wfrun.spec.model import Agent, Phase, Resource, Retry, Workflow
from wfrun.spec.source import Source


def freeze(doc: WorkflowDoc, source: Source, base_dir: Path) -> Workflow:
    """The frozen Workflow the planner and engine use; only called on a clean file."""
    file = base_dir / Path(source.file).name
    return Workflow(
        name=doc.name or Path(source.file).stem,
        file=file,
        version=doc.version,
        description=doc.description,
        params=doc.params,
        resources={
            name: Resource(
                name=name,
                type=r.type,
                config=r.with_,
                needs=tuple(r.needs),
                pool=r.pool,
                restart=r.restart == "allowed",
            )
            for name, r in doc.resources.items()
        },
        agents={
            name: Agent(
                name=name,
                type=a.type,
                config=a.with_,
                requires=tuple(a.requires),
                optional=tuple(a.optional),
            )
            for name, a in doc.agents.items()
        },
        execution=doc.execution,
        phases={name: _phase(name, p) for name, p in doc.phases.items()},
        templates={name: _phase(name, t) for name, t in doc.templates.items()},
        plugins=tuple(doc.plugins),
        secrets=tuple(dict.fromkeys(doc.secrets)),
        limits=dict(doc.limits),
        budget={k: v for k, v in (doc.budget.model_dump() if doc.budget else {}).items() if v},
        max_spawns=doc.max_spawns,
        places={  # capacity problems are found by the planner, reported at these
            **{f"resources.{n}": source.at(("resources", n), key=True) for n in doc.resources},
            **{f"limits.{k}": source.at(("limits", k), key=True) for k in doc.limits},
        },
    )


def _phase(name: str, doc: PhaseDoc | TemplateDoc) -> Phase:
    return Phase(
        name=name,
        agents=tuple(doc.agents),
        resources=tuple(doc.resources),
        max_iterations=doc.max_iterations,
        needs=tuple(doc.needs) if isinstance(doc, PhaseDoc) else (),
        condition=parse_expression(doc.if_) if doc.if_ is not None else None,
        condition_text=doc.if_ or "",
        expect=doc.expect,
        timeout=doc.timeout,
        may_spawn=tuple(doc.may_spawn),
        params=doc.params if isinstance(doc, TemplateDoc) else {},
        retry=_retry(doc.retry),
    )


_RETRY_STATUS = {"failure": "failed", "timeout": "timeout", "error": "error"}


def _retry(doc: RetryDoc | None) -> Retry | None:
    """`retry:` as statuses to retry (the file says `failure`, a phase ends `failed`)."""
    if doc is None:
        return None
    on = frozenset(_RETRY_STATUS[ending] for ending in doc.on)
    return Retry(attempts=doc.attempts, backoff=doc.backoff, on=on)
