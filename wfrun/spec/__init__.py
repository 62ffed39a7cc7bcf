"""The workflow language: YAML with positions, pydantic models, semantic checks."""

from __future__ import annotations

from wfrun.spec.loader import Inspection, inspect_workflow, load_workflow
from wfrun.spec.model import Agent, Phase, Resource, Workflow

__all__ = [
    "Agent",
    "Inspection",
    "Phase",
    "Resource",
    "Workflow",
    "inspect_workflow",
    "load_workflow",
]
