"""Token and cost accounting, and the run-wide `budget:` that stops a run crossing it.

A turn's `usage` (see `TurnResult.usage`) may carry `prompt_tokens`/`completion_tokens`
(or `input_tokens`/`output_tokens`) and `cost`; the meter sums them as turns end, from
worker threads, and says once, with the reason, when the run went over its budget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any


def tokens_of(usage: Mapping[str, Any]) -> tuple[int, int]:
    """(input, output) tokens of one turn's usage; 0 for what it does not say."""
    tokens_in = _number(usage.get("prompt_tokens", usage.get("input_tokens")))
    tokens_out = _number(usage.get("completion_tokens", usage.get("output_tokens")))
    return int(tokens_in), int(tokens_out)


def cost_of(usage: Mapping[str, Any]) -> float:
    return _number(usage.get("cost"))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class UsageMeter:
    """The run's totals so far, checked against `budget` ({tokens, cost}) as turns end."""

    def __init__(self, budget: Mapping[str, float], on_exceeded: Callable[[str], None]) -> None:
        self.budget = dict(budget)
        self.tokens = 0
        self.cost = 0.0
        self._on_exceeded = on_exceeded
        self._lock = threading.Lock()
        self._tripped = False

    def add(self, usage: Mapping[str, Any]) -> None:
        tokens_in, tokens_out = tokens_of(usage)
        cost = cost_of(usage)
        if not (tokens_in or tokens_out or cost):
            return
        with self._lock:
            self.tokens += tokens_in + tokens_out
            self.cost += cost
            reason = self._over()
            if not reason or self._tripped:
                return
            self._tripped = True
        self._on_exceeded(reason)

    def _over(self) -> str:
        limit = self.budget.get("tokens")
        if limit and self.tokens > limit:
            return f"budget exceeded: {self.tokens} tokens used, the budget is {int(limit)}"
        limit = self.budget.get("cost")
        if limit and self.cost > limit:
            return f"budget exceeded: cost {self.cost:.4f} > the budget of {limit:g}"
        return ""
