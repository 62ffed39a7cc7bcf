"""Replayed answers: a model for offline demos and tests, read from YAML or JSONL.

The script is a list; each entry is a string or `{content: ...}`, answered in order,
one per `chat` call, whatever was asked. Running out is an error, never a silent repeat.
With `estimate_tokens` it counts a token per 4 characters sent or answered (the model's
`estimate_tokens: true`), so budgets and prices can be tried offline.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from wfrun.builtins.chat import ChatReply, Message
from wfrun.builtins.errors import ModelError


class ReplayScript:
    """Answers from `path`, in order; thread-safe."""

    def __init__(self, path: Path, *, estimate_tokens: bool = False) -> None:
        self.path = path
        self.estimate_tokens = estimate_tokens
        self.answers = load_answers(path)
        self.used = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReplayScript({str(self.path)!r}, used={self.used}/{len(self.answers)})"

    def chat(self, messages: Sequence[Message], **options: Any) -> ChatReply:
        del options  # a replay answers the same whatever it is asked
        with self._lock:
            if self.used >= len(self.answers):
                msg = (
                    f"replay script {self.path} has no answer left: all {len(self.answers)} "
                    "were used (add answers, or lower max_iterations)"
                )
                raise ModelError(msg)
            text = self.answers[self.used]
            self.used += 1
        if not self.estimate_tokens:
            return ChatReply(text=text, usage={"prompt_tokens": 0, "completion_tokens": 0})
        sent = sum(len(str(m.get("content", ""))) for m in messages)
        usage = {"prompt_tokens": _estimate(sent), "completion_tokens": _estimate(len(text))}
        return ChatReply(text=text, usage=usage)


def _estimate(characters: int) -> int:
    """About a token per 4 characters (English text and code), rounded up."""
    return -(-characters // 4)


def load_answers(path: Path) -> list[str]:
    """The script's answers as strings; a clear error naming the entry that is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"replay script {path} does not exist"
        raise ModelError(msg) from None
    except OSError as exc:
        msg = f"cannot read replay script {path}: {exc.strerror or exc}"
        raise ModelError(msg) from None
    if path.suffix == ".jsonl":
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append((f"line {number}", json.loads(line)))
            except ValueError as exc:
                msg = f"replay script {path}: line {number} is not JSON: {exc}"
                raise ModelError(msg) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            msg = f"replay script {path} is not valid YAML: {exc}"
            raise ModelError(msg) from None
        if not isinstance(data, list):
            msg = f"replay script {path} must be a list of answers, got {type(data).__name__}"
            raise ModelError(msg)
        entries = [(f"entry {index}", item) for index, item in enumerate(data, 1)]
    return [_answer(path, where, item) for where, item in entries]


def _answer(path: Path, where: str, item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("content"), str):
        return str(item["content"])
    msg = f"replay script {path}: {where} must be a string or {{content: ...}}, got {item!r}"
    raise ModelError(msg)
