"""What every chat model client returns, and the protocol agents rely on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = Mapping[str, Any]  # {"role": "system" | "user" | "assistant", "content": str}


@dataclass(frozen=True)
class ChatReply:
    """One answer: its text, token counts (prompt_tokens, completion_tokens) and latency."""

    text: str
    usage: Mapping[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    cost: float | None = None  # from the model's `price:`; None when it has none

    def usage_event(self) -> dict[str, Any]:
        """Token counts and latency (and cost, if priced), as a turn's `usage`."""
        usage: dict[str, Any] = {
            "prompt_tokens": int(self.usage.get("prompt_tokens", 0)),
            "completion_tokens": int(self.usage.get("completion_tokens", 0)),
            "latency_s": round(self.latency_s, 6),
        }
        if self.cost is not None:
            usage["cost"] = round(self.cost, 8)
        return usage


@runtime_checkable
class ChatModel(Protocol):
    """Anything an agent can ask: the `model` resource, or a plugin's own client."""

    # Send the conversation; return the next assistant message.
    def chat(self, messages: Sequence[Message], **options: Any) -> ChatReply: ...
