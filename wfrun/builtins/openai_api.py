"""A client for any OpenAI-compatible `/chat/completions` endpoint, on urllib alone.

The API key goes into the Authorization header and nowhere else: not into repr,
error messages (server replies are scrubbed of it too) or the journal.

HTTP 429, 5xx and connection errors are retried (tenacity) up to `retries` times with
exponential backoff and jitter; a `Retry-After` the server sends is the wait, as asked
(capped at `MAX_RETRY_AFTER`). A timeout is not retried: it already cost `timeout`.
tenacity is imported by the first call, not with the type: `validate` never needs it.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from wfrun.builtins.chat import ChatReply, Message
from wfrun.builtins.errors import ModelError

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

_SNIPPET = 300
MAX_RETRY_AFTER = 120.0  # seconds: a server asking for longer gets this much, then a retry


class TransientModelError(ModelError):
    """A failure worth another try (429, 5xx, a refused or reset connection)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@cache
def _backoff() -> Callable[[RetryCallState], float]:
    from tenacity.wait import wait_random_exponential  # noqa: PLC0415 - see the docstring

    return wait_random_exponential(multiplier=0.5, max=30.0)  # "full jitter": 0-1s, 0-2s...


def _honour_retry_after(retry_state: RetryCallState) -> float:
    """The server's `Retry-After` when it sent one; exponential backoff with jitter if not."""
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    if isinstance(error, TransientModelError) and error.retry_after is not None:
        return min(MAX_RETRY_AFTER, error.retry_after)
    return float(_backoff()(retry_state))


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
        retries: int = 3,
        on_retry: Callable[[str], None] | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self.defaults = dict(defaults or {})
        self.retries = retries
        self.on_retry = on_retry or (lambda _line: None)  # each retry is reported (an event)
        self.cancelled = cancelled or threading.Event()  # the run is stopping: wait no more
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
        raw = self._retrying()(self._send, request)
        latency = time.monotonic() - began
        return self._parse(raw, latency)

    def _retrying(self) -> Retrying:
        from tenacity import (  # noqa: PLC0415 - see the docstring
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
        )

        return Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=_honour_retry_after,
            retry=retry_if_exception_type(TransientModelError),
            before_sleep=self._report,
            sleep=self._sleep,
            reraise=True,  # the last attempt's own error, not tenacity's RetryError
        )

    def _report(self, state: RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        wait = state.upcoming_sleep
        self.on_retry(f"retry {state.attempt_number}/{self.retries} in {wait:.2f}s after: {error}")

    def _sleep(self, seconds: float) -> None:
        if self.cancelled.wait(seconds):
            msg = f"model API {self.url}: the run is stopping; no more retries"
            raise ModelError(msg)

    def _send(self, request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc.read())
            msg = f"model API {self.url} answered HTTP {exc.code}" + (
                f": {detail}" if detail else ""
            )
            if exc.code == 429 or exc.code >= 500:
                after = _retry_after(exc.headers.get("Retry-After"))
                raise TransientModelError(self._scrub(msg), retry_after=after) from exc
            raise ModelError(self._scrub(msg)) from exc
        except urllib.error.URLError as exc:
            error = ModelError if _timed_out(exc.reason) else TransientModelError
            raise error(self._scrub(self._unreachable(exc.reason))) from exc
        except OSError as exc:  # includes TimeoutError while reading the answer
            error = ModelError if _timed_out(exc) else TransientModelError
            raise error(self._scrub(self._unreachable(exc))) from exc

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


def _timed_out(reason: object) -> bool:
    return isinstance(reason, TimeoutError)


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
