"""`model`: a chat model client (an OpenAI-compatible API, or a replayed script)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, model_validator

from wfrun.builtins.chat import ChatModel, ChatReply, Message
from wfrun.builtins.config import Config, ExistingPath
from wfrun.builtins.errors import ModelError
from wfrun.builtins.openai_api import OpenAIClient
from wfrun.builtins.replay import ReplayScript
from wfrun.engine.api import ResourceContext
from wfrun.registry import TypeSpec


class Price(Config):
    """What a million tokens cost, in any currency (the run's totals are in it too)."""

    input: float = Field(ge=0, description="per million input (prompt) tokens")
    output: float = Field(ge=0, description="per million output (completion) tokens")


class ModelConfig(Config):
    """`openai` talks to any OpenAI-compatible HTTP API; `replay` answers from a script."""

    provider: Literal["openai", "replay"] = Field(description="where answers come from")
    model: str = Field("", description="model name sent to the API")
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1")
    api_key: SecretStr | None = Field(None, description="use ${env.NAME}; never logged")
    script: Annotated[str | None, ExistingPath()] = Field(
        None, description="replay: YAML or JSONL file of answers"
    )
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    retries: int = Field(
        3,
        ge=0,
        le=20,
        description="retries of HTTP 429, 5xx and connection errors (backoff, Retry-After)",
    )
    estimate_tokens: bool = Field(
        False, description="replay: count a token per 4 characters (to try budgets offline)"
    )
    price: Price | None = Field(
        None, description="{input, output} per million tokens: turns and the run get a cost"
    )

    @model_validator(mode="after")
    def _provider_needs(self) -> ModelConfig:
        if self.provider == "openai" and not (self.base_url and self.model):
            msg = "provider 'openai' needs base_url and model"
            raise ValueError(msg)
        if self.provider == "replay" and not self.script:
            msg = "provider 'replay' needs script: a YAML or JSONL file of answers"
            raise ValueError(msg)
        return self


class Model:
    """The live client: `chat(messages, **options) -> ChatReply`. Usable once started."""

    def __init__(self, config: ModelConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.client: ChatModel | None = None

    def __repr__(self) -> str:
        return f"Model({self.ctx.name!r}, client={self.client!r})"

    def start(self) -> Mapping[str, Any]:
        config = self.config
        if config.provider == "replay":
            self.client = ReplayScript(
                self.ctx.base_dir / (config.script or ""), estimate_tokens=config.estimate_tokens
            )
        else:
            defaults = {
                key: value
                for key, value in (
                    ("temperature", config.temperature),
                    ("max_tokens", config.max_tokens),
                )
                if value is not None
            }
            self.client = OpenAIClient(
                base_url=config.base_url or "",
                model=config.model,
                api_key=config.api_key.get_secret_value() if config.api_key else None,
                timeout=config.timeout,
                defaults=defaults,
                retries=config.retries,
                on_retry=lambda line: self.ctx.log(f"model {self.ctx.name!r}: {line}"),
                cancelled=self.ctx.cancelled,
            )
        return {"provider": config.provider, "model": config.model, "base_url": config.base_url}

    def stop(self) -> None:
        self.client = None

    def journal(self) -> Mapping[str, Any]:
        return {}  # nothing outlives the run (and the key must never be written down)

    def chat(self, messages: Sequence[Message], **options: Any) -> ChatReply:
        """Ask for the next assistant message; options (e.g. temperature) go to the API."""
        if self.client is None:
            msg = f"model {self.ctx.name!r} is not started"
            raise ModelError(msg)
        reply = self.client.chat(messages, **options)
        price = self.config.price
        if price is None:
            return reply
        cost = (
            reply.usage.get("prompt_tokens", 0) * price.input
            + reply.usage.get("completion_tokens", 0) * price.output
        ) / 1e6
        return dataclasses.replace(reply, cost=cost)


TYPES = [
    TypeSpec(
        kind="resource",
        name="model",
        config=ModelConfig,
        factory=Model,
        attributes=("provider", "model", "base_url"),
        doc="A chat model client: an OpenAI-compatible API, or replayed answers.",
    )
]
