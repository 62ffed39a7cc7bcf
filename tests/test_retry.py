"""Retries (issue 19, items 2 and 3): through the real CLI, on real files and sockets.

A model client retries 429, 5xx and refused connections, waiting what `Retry-After`
asks; a phase with `retry:` runs again after a failed attempt, each attempt visible.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Files, WfrunProject
from tests.conftest import run_events as events
from tests.conftest import run_record as record
from tests.model_api import FakeAPI, serving

MakeProject = Callable[[Files], WfrunProject]


@pytest.fixture
def busy_api() -> Iterator[Callable[..., FakeAPI]]:
    """A model API that answers `status` (`Retry-After: 1`) the first `busy` times."""
    with contextlib.ExitStack() as stack:

        def make(busy: int, status: int = 429) -> FakeAPI:
            error = json.dumps({"error": {"message": "slow down"}}).encode()
            replies = [(status, error, {"Retry-After": "1"})] * busy
            return stack.enter_context(serving(FakeAPI(replies=replies)))

        yield make


def model_flow(url: str, setting: str = "") -> str:
    return f"""
    version: 1
    resources:
      llm: {{type: model, with: {{provider: openai, base_url: "{url}", model: m{setting}}}}}
    agents:
      solver: {{type: executor, requires: [llm], with: {{task: finish}}}}
    phases:
      solve: {{agents: [solver], max_iterations: 2}}
    """


# -- item 3: model clients retry --------------------------------------------------------


def test_a_model_answering_429_with_retry_after_is_retried_after_the_wait(
    wfrun_project: MakeProject, busy_api: Callable[..., FakeAPI]
) -> None:
    api = busy_api(busy=2)
    project = wfrun_project({"flow.yaml": model_flow(api.url)})
    outcome = project.run("run", "flow.yaml")
    outcome.assert_success()
    assert len(api.arrivals) == 3
    first, second, third = api.arrivals
    assert second - first >= 1.0, api.arrivals  # Retry-After: 1, honoured each time
    assert third - second >= 1.0, api.arrivals
    assert third - first >= 2.0, api.arrivals
    retries = [e for e in events(project, "resource_log") if e["resource"] == "llm"]
    assert [e["line"].split(" in ")[0] for e in retries] == [
        "model 'llm': retry 1/3",
        "model 'llm': retry 2/3",
    ]
    assert "HTTP 429: slow down" in retries[0]["line"]
    assert record(project)["phases"]["solve"]["status"] == "succeeded"


def test_a_model_out_of_retries_fails_the_phase_with_the_servers_answer(
    wfrun_project: MakeProject, busy_api: Callable[..., FakeAPI]
) -> None:
    api = busy_api(busy=5, status=503)
    project = wfrun_project({"flow.yaml": model_flow(api.url, ", retries: 1")})
    outcome = project.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    assert len(api.arrivals) == 2  # one try and one retry
    phase = record(project)["phases"]["solve"]
    assert "answered HTTP 503: slow down" in phase["reason"], phase
    assert len(events(project, "resource_log")) == 1


# -- item 2: `retry:` on a phase --------------------------------------------------------

FLAKY = """
version: 1
resources:
  scratch: {type: memory}
agents:
  flaky:
    type: shell
    requires: [scratch]
    with: {shell: true, run: "test -f tried || { touch tried; echo first try; exit 1; }; echo ok"}
phases:
  build: {agents: [flaky], max_iterations: 1, RETRY}
  after: {agents: [flaky], max_iterations: 1}
"""


def test_retry_on_a_flaky_phase_succeeds_on_attempt_2_each_attempt_visible(
    wfrun_project: MakeProject,
) -> None:
    retry = "retry: {attempts: 3, backoff: 0.2, on: [failure]}"
    project = wfrun_project({"flow.yaml": FLAKY.replace("RETRY", retry)})
    outcome = project.run("run", "flow.yaml")
    outcome.assert_success()
    (retry_event,) = events(project, "phase_retry")
    assert retry_event["phase"] == "build"
    assert (retry_event["attempt"], retry_event["attempts"]) == (2, 3)
    assert (retry_event["status"], retry_event["wait"]) == ("failed", 0.2)
    assert retry_event["reason"] == "the last turn failed"
    starts = [e["phase"] for e in events(project, "phase_started")]
    assert starts == ["build", "build", "after"]
    outputs = [e["output"] for e in events(project, "agent_output") if e["phase"] == "build"]
    assert [o.strip() for o in outputs] == ["first try", "ok"]
    phase = record(project)["phases"]["build"]
    assert (phase["status"], phase["attempt"]) == ("succeeded", 2)
    assert [a["attempt"] for a in phase["failed_attempts"]] == [1]
    # the memory the phase holds was started once and kept across the attempts
    assert [e["resource"] for e in events(project, "resource_started")] == ["scratch"]
    assert "build: attempt 1 failed: the last turn failed; attempt 2 of 3 in 0.2s" in outcome.out


def test_retry_ends_after_its_attempts_and_only_on_the_endings_it_names(
    wfrun_project: MakeProject,
) -> None:
    flow = FLAKY.replace("test -f tried || ", "").replace("RETRY", "retry: {attempts: 2}")
    project = wfrun_project({"flow.yaml": flow})
    outcome = project.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    assert len(events(project, "phase_retry")) == 1
    assert record(project)["phases"]["build"]["status"] == "failed"

    timeout_only = FLAKY.replace("RETRY", "retry: {attempts: 3, on: [timeout]}")
    (project.path / "tried").unlink()
    project.write({"flow.yaml": timeout_only})
    for old in (project.path / ".wfrun" / "runs").iterdir():
        shutil.rmtree(old)
    outcome = project.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    assert events(project, "phase_retry") == []


def test_retry_with_a_bad_ending_is_a_positioned_error(wfrun_project: MakeProject) -> None:
    flow = FLAKY.replace("RETRY", "retry: {attempts: 2, on: [flaky]}")
    project = wfrun_project({"flow.yaml": flow})
    outcome = project.run("validate", "flow.yaml")
    outcome.assert_invalid()
    assert "flow.yaml:10:73: error: phases.build.retry.on[0]" in outcome.out + outcome.err, outcome
