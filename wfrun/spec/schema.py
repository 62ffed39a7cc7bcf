"""`wfrun schema`: one JSON Schema of the file format, generated from the same models.

Each resource and agent entry is a discriminated union on `type`, built from the
registry, so editors (yaml-language-server) complete and check each type's `with:`.
Wherever a number or boolean is expected, a `${...}` placeholder string is accepted
too, because `max_iterations: "${params.tries}"` is valid before substitution.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from wfrun.registry import Kind, Registry
from wfrun.spec.document import AgentDoc, Name, ResourceDoc, WorkflowDoc

SCHEMA_ID = "https://wfrun.dev/schema/workflow-v1.json"
PLACEHOLDER_SCHEMA = {"type": "string", "pattern": r"^\$\{[^{}]+\}$"}


class _PlaceholderFriendly(GenerateJsonSchema):
    """Numbers and booleans also accept a whole-string `${...}` placeholder."""

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        return {"anyOf": [super().int_schema(schema), PLACEHOLDER_SCHEMA]}

    def float_schema(self, schema: core_schema.FloatSchema) -> JsonSchemaValue:
        return {"anyOf": [super().float_schema(schema), PLACEHOLDER_SCHEMA]}

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        return {"anyOf": [super().bool_schema(schema), PLACEHOLDER_SCHEMA]}


def _typed_union(registry: Registry, kind: Kind, base: type[BaseModel]) -> Any:
    variants: list[type[BaseModel]] = []
    for spec in registry.of_kind(kind):
        variant = create_model(
            f"{kind.title()}_{spec.name.replace('-', '_')}",
            __base__=base,
            __doc__=spec.doc or base.__doc__,
            type=(Literal[spec.name], Field(description=spec.summary)),  # type: ignore[arg-type]
            with_=(spec.config, Field(default_factory=dict, alias="with")),
        )
        variants.append(variant)
    if not variants:
        return base
    if len(variants) == 1:
        return variants[0]
    return Annotated[Union[tuple(variants)], Field(discriminator="type")]  # noqa: UP007


def _placeholders_for_choices(node: Any) -> None:
    """An `enum`/`const` setting (`provider: replay`) may also be a `${...}` placeholder;
    `type` stays exact, as the discriminator that picks each entry's `with:` schema."""
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if name != "type" and isinstance(prop, dict) and ("enum" in prop or "const" in prop):
                node["properties"][name] = {"anyOf": [prop, PLACEHOLDER_SCHEMA]}
        for value in node.values():
            _placeholders_for_choices(value)
    elif isinstance(node, list):
        for value in node:
            _placeholders_for_choices(value)


def _close_name_maps(node: Any) -> None:
    """`dict[Name, X]` becomes patternProperties, which lets other keys through unchecked:
    close those maps so an editor flags `bad name:` as pydantic does."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_name_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_name_maps(value)


def workflow_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file with these types."""
    resource = _typed_union(registry, "resource", ResourceDoc)
    agent = _typed_union(registry, "agent", AgentDoc)
    model = create_model(
        "Workflow",
        __base__=WorkflowDoc,
        __doc__=WorkflowDoc.__doc__,
        resources=(dict[Name, resource], Field(default_factory=dict)),  # type: ignore[valid-type]
        agents=(dict[Name, agent], Field(default_factory=dict)),  # type: ignore[valid-type]
    )
    schema = model.model_json_schema(by_alias=True, schema_generator=_PlaceholderFriendly)
    _close_name_maps(schema)
    _placeholders_for_choices(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "wfrun workflow",
    }
