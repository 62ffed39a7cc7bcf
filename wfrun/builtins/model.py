"""`model`: a chat model client (an OpenAI-compatible API, or a replayed script)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from wfrun.builtins.config import Config
from wfrun.registry import TypeSpec


class ModelConfig(Config):
    """`openai` talks to any OpenAI-compatible HTTP API; `replay` answers from a script."""

    provider: Literal["openai", "replay"] = Field(description="where answers come from")
    model: str = Field("", description="model name sent to the API")
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1")
    api_key: str | None = Field(None, description="use ${env.NAME}; never logged")
    script: str | None = Field(None, description="replay: YAML or JSONL file of answers")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    timeout: float = Field(60.0, gt=0, description="seconds per request")

    @model_validator(mode="after")
    def _provider_needs(self) -> ModelConfig:
        if self.provider == "openai" and not (self.base_url and self.model):
            msg = "provider 'openai' needs base_url and model"
            raise ValueError(msg)
        if self.provider == "replay" and not self.script:
            msg = "provider 'replay' needs script: a YAML or JSONL file of answers"
            raise ValueError(msg)
        return self


TYPES = [
    TypeSpec(
        kind="resource",
        name="model",
        config=ModelConfig,
        attributes=("provider", "model", "base_url"),
        doc="A chat model client: an OpenAI-compatible API, or replayed answers.",
    )
]
