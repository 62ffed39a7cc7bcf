"""A client for any OpenAI-compatible `/chat/completions` endpoint, on urllib alone.

The API key goes into the Authorization header and nowhere else: not into repr,
error messages (server replies are scrubbed of it too) or the journal.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from wfrun.builtins.chat import ChatReply, Message
from wfrun.builtins.errors import ModelError

_SNIPPET = 300


class OpenAIClient:
    """POSTs the conversation to `{base_url}/chat/completions` and returns the answer."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self.defaults = dict(defaults or {})
        self.__key = api_key or ""

    def __repr__(self) -> str:
        key = "set" if self.__key else "unset"
        return f"OpenAIClient(url={self.url!r}, model={self.model!r}, api_key=<{key}>)"

    def chat(self, messages: Sequence[Message], **options: Any) -> ChatReply:
        body = {"model": self.model, "messages": list(messages), **self.defaults, **options}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        began = time.monotonic()
        raw = self._send(request)
        latency = time.monotonic() - began
        return self._parse(raw, latency)

    def _send(self, request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc.read())
            msg = f"model API {self.url} answered HTTP {exc.code}" + (
                f": {detail}" if detail else ""
            )
            raise ModelError(self._scrub(msg)) from exc
        except urllib.error.URLError as exc:
            raise ModelError(self._scrub(self._unreachable(exc.reason))) from exc
        except OSError as exc:  # includes TimeoutError while reading the answer
            raise ModelError(self._scrub(self._unreachable(exc))) from exc

    def _unreachable(self, reason: object) -> str:
        if isinstance(reason, TimeoutError):
            return f"model API {self.url} did not answer within {self.timeout:g}s"
        if isinstance(reason, ConnectionRefusedError):
            return f"cannot reach the model API at {self.url}: connection refused (is it running?)"
        return f"cannot reach the model API at {self.url}: {reason}"

    def _parse(self, raw: bytes, latency: float) -> ChatReply:
        try:
            data = json.loads(raw)
        except ValueError:
            snippet = raw[:_SNIPPET].decode("utf-8", errors="replace")
            msg = f"model API {self.url} answered with something that is not JSON: {snippet!r}"
            raise ModelError(self._scrub(msg)) from None
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            msg = f"model API {self.url} answered without choices[0].message.content (got {keys})"
            raise ModelError(self._scrub(msg)) from None
        usage = data.get("usage") or {}
        return ChatReply(
            text=content if isinstance(content, str) else "",
            usage={
                "prompt_tokens": int(usage.get("prompt_tokens") or 0),
                "completion_tokens": int(usage.get("completion_tokens") or 0),
            },
            latency_s=latency,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text


def _error_detail(raw: bytes) -> str:
    """The server's own error message if it sent JSON (`{"error": {"message": ...}}`)."""
    text = raw[:2000].decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_SNIPPET]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:_SNIPPET]
    if isinstance(error, str):
        return error[:_SNIPPET]
    return text[:_SNIPPET]
