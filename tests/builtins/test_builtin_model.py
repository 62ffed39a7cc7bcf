"""`model`: a real OpenAI-compatible HTTP server on loopback, and replay scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from builtin_helpers import free_port, started

from tests.model_api import FakeAPI, completion
from wfrun.builtins.errors import ModelError
from wfrun.builtins.model import Model, ModelConfig
from wfrun.engine.api import ResourceContext

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., ResourceContext]
KEY = "sk-test-9f8e7d6c5b4a"
HELLO = [{"role": "user", "content": "hello"}]


def openai(ctx: ResourceContext, url: str, **config: object) -> Model:
    values = {"provider": "openai", "base_url": url, "model": "tiny", "api_key": KEY, **config}
    return Model(ModelConfig.model_validate(values), ctx)


def test_chat_posts_the_conversation_and_returns_text_usage_latency(
    resource_ctx: MakeCtx, fake_api: FakeAPI
) -> None:
    fake_api.replies.append((200, completion("ls -la", prompt_tokens=31, completion_tokens=4)))
    model = openai(resource_ctx("llm"), fake_api.url + "/", temperature=0.2, max_tokens=50)
    with started(model) as attributes:
        assert attributes == {"provider": "openai", "model": "tiny", "base_url": fake_api.url + "/"}
        reply = model.chat(HELLO, stop=["\n\n"])
    assert reply.text == "ls -la"
    assert reply.usage == {"prompt_tokens": 31, "completion_tokens": 4}
    assert 0 < reply.latency_s < 5
    assert reply.usage_event() == {
        "prompt_tokens": 31,
        "completion_tokens": 4,
        "latency_s": round(reply.latency_s, 6),
    }
    [request] = fake_api.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"] == {
        "model": "tiny",
        "messages": HELLO,
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["\n\n"],
    }


def test_no_key_sends_no_authorization(resource_ctx: MakeCtx, fake_api: FakeAPI) -> None:
    model = openai(resource_ctx(), fake_api.url, api_key=None)
    with started(model):
        assert model.chat(HELLO).text == "DONE"
    assert "Authorization" not in fake_api.requests[0]["headers"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            (500, json.dumps({"error": {"message": "the GPU caught fire"}}).encode()),
            "model API {url} answered HTTP 500: the GPU caught fire",
        ),
        (
            (401, json.dumps({"error": {"message": f"bad key {KEY}"}}).encode()),
            "model API {url} answered HTTP 401: bad key ***",
        ),
        (
            (200, b"<html>proxy login</html>"),
            "model API {url} answered with something that is not JSON: '<html>proxy login</html>'",
        ),
        (
            (200, json.dumps({"object": "error"}).encode()),
            "model API {url} answered without choices[0].message.content (got ['object'])",
        ),
    ],
    ids=["500", "401-echoes-key", "not-json", "no-choices"],
)
def test_api_failures_are_clear_and_never_show_the_key(
    resource_ctx: MakeCtx, fake_api: FakeAPI, reply: tuple[int, bytes], expected: str
) -> None:
    fake_api.replies.append(reply)
    model = openai(
        resource_ctx(), fake_api.url, retries=0
    )  # a 500 is retried (tests/test_retry.py)
    with started(model), pytest.raises(ModelError) as caught:
        model.chat(HELLO)
    assert str(caught.value) == expected.format(url=fake_api.url + "/chat/completions")
    assert KEY not in str(caught.value)


def test_connection_refused(resource_ctx: MakeCtx) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = openai(resource_ctx(), url)
    with started(model), pytest.raises(ModelError) as caught:
        model.chat(HELLO)
    assert str(caught.value) == (
        f"cannot reach the model API at {url}/chat/completions: connection refused (is it running?)"
    )


def test_timeout(resource_ctx: MakeCtx, fake_api: FakeAPI) -> None:
    fake_api.delay = 2.0
    model = openai(resource_ctx(), fake_api.url, timeout=0.3)
    with started(model), pytest.raises(ModelError) as caught:
        model.chat(HELLO)
    assert (
        str(caught.value) == f"model API {fake_api.url}/chat/completions did not answer within 0.3s"
    )


def test_the_key_appears_in_no_repr_journal_or_config_dump(
    resource_ctx: MakeCtx, fake_api: FakeAPI
) -> None:
    model = openai(resource_ctx("llm"), fake_api.url)
    with started(model):
        shown = [repr(model), str(model), repr(model.client), repr(model.config), str(model.config)]
        shown.append(json.dumps(dict(model.journal())))
        shown.append(model.config.model_dump_json())
        assert all(KEY not in text for text in shown), shown
        assert "api_key=<set>" in repr(model.client)
    assert model.config.api_key is not None
    assert model.config.api_key.get_secret_value() == KEY


def test_replay_answers_yaml_in_order_then_runs_out(resource_ctx: MakeCtx, flow_dir: Path) -> None:
    (flow_dir / "answers.yaml").write_text("- first\n- {content: second}\n")
    model = Model(ModelConfig(provider="replay", script="answers.yaml"), resource_ctx())
    with started(model) as attributes:
        assert attributes == {"provider": "replay", "model": "", "base_url": None}
        assert [model.chat(HELLO).text, model.chat(HELLO).text] == ["first", "second"]
        with pytest.raises(ModelError) as caught:
            model.chat(HELLO)
    assert str(caught.value) == (
        f"replay script {flow_dir / 'answers.yaml'} has no answer left: all 2 were used "
        "(add answers, or lower max_iterations)"
    )


def test_replay_reads_jsonl(resource_ctx: MakeCtx, flow_dir: Path) -> None:
    lines = [json.dumps("one"), "", json.dumps({"content": "two\n```sh\nls\n```"})]
    (flow_dir / "answers.jsonl").write_text("\n".join(lines) + "\n")
    model = Model(ModelConfig(provider="replay", script="answers.jsonl"), resource_ctx())
    with started(model):
        assert model.chat(HELLO).text == "one"
        reply = model.chat(HELLO)
    assert reply.text == "two\n```sh\nls\n```"
    assert reply.usage == {"prompt_tokens": 0, "completion_tokens": 0}


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("missing.yaml", None, "does not exist"),
        ("bad.yaml", "answer: 1\n", "must be a list of answers, got dict"),
        ("bad.yaml", "- [1, 2]\n", "entry 1 must be a string or {content: ...}, got [1, 2]"),
        ("bad.jsonl", '"ok"\n{nope\n', "line 2 is not JSON: "),
    ],
)
def test_replay_script_errors_name_the_problem(
    resource_ctx: MakeCtx, flow_dir: Path, name: str, text: str | None, problem: str
) -> None:
    if text is not None:
        (flow_dir / name).write_text(text)
    model = Model(ModelConfig(provider="replay", script=name), resource_ctx())
    with pytest.raises(ModelError) as caught:
        model.start()
    assert str(caught.value).startswith(f"replay script {flow_dir / name}")
    assert problem in str(caught.value)
    model.stop()


def test_chat_before_start_is_an_error(resource_ctx: MakeCtx) -> None:
    model = Model(ModelConfig(provider="replay", script="x.yaml"), resource_ctx("llm"))
    with pytest.raises(ModelError, match="model 'llm' is not started"):
        model.chat(HELLO)
