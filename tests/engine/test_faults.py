"""Whatever goes wrong, every started resource is stopped and the record is complete."""

from __future__ import annotations

import signal

import pytest

from .conftest import alive, send

CHAIN = """
version: 1
plugins: [plugin_types]
resources:
  a: {type: probe, with: {tag: TAG, fail_start: FAIL_A}}
  b: {type: probe, needs: [a], with: {tag: TAG, fail_start: FAIL_B}}
  c: {type: probe, with: {tag: TAG, fail_start: FAIL_C}}
agents:
  uses_b: {type: act, requires: [b]}
  uses_c: {type: act, requires: [c]}
phases:
  first: {agents: [uses_b]}
  second: {agents: [uses_c]}
"""


def _chain(failing: str) -> str:
    text = CHAIN
    for name in "ABC":
        text = text.replace(f"FAIL_{name}", "true" if name == failing else "false")
    return text


@pytest.mark.parametrize("failing", ["A", "B", "C"])
def test_resource_failing_to_start_at_each_position(engine_project, failing):
    engine_project.write(_chain(failing))
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 1, result
    failed = result.kinds("resource_failed")
    assert [e["resource"] for e in failed] == [failing.lower()]
    assert failed[0]["error"] == f"{failing.lower()} refused to start"
    phase = "second" if failing == "C" else "first"
    assert result.record["phases"][phase]["status"] == "failed"
    assert (
        f"resource {failing.lower()!r} failed to start" in result.record["phases"][phase]["reason"]
    )
    assert result.record["status"] == "failed"
    engine_project.assert_nothing_left(result)


def test_agent_raising_fails_its_phase_and_tears_down(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          r: {type: probe, with: {tag: TAG}}
        agents:
          boom: {type: act, requires: [r], with: {boom: true}}
        phases:
          explode: {agents: [boom]}
        """
    )
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 1, result
    phase = result.record["phases"]["explode"]
    assert phase["status"] == "error"
    assert phase["reason"] == (
        "agent 'boom' raised ValueError: the agent blew up "
        f"(traceback: {result.run_dir.resolve()}/logs/explode.boom.traceback.txt)"
    )
    assert "Traceback" not in result.out + result.err
    engine_project.assert_nothing_left(result)


def test_stop_raising_is_recorded_and_the_others_still_stop(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          base: {type: probe, with: {tag: TAG}}
          stubborn: {type: probe, needs: [base], with: {tag: TAG, fail_stop: true}}
        agents:
          user: {type: act, requires: [stubborn]}
        phases:
          only: {agents: [user]}
        """
    )
    result = engine_project.run("run", "flow.yaml")
    stops = {e["resource"]: e["error"] for e in result.kinds("resource_stopped")}
    assert stops == {"stubborn": "stubborn refused to stop", "base": ""}, result
    assert result.record["resources"]["stubborn"]["stops"][0]["error"] == "stubborn refused to stop"
    assert "some resources failed to stop" in result.record["reason"]
    # the stubborn one is still in the journal; cleanup takes care of it
    leftovers = engine_project.leftover_dirs()
    assert len(leftovers) == 1
    assert "stubborn" in leftovers[0].name
    cleaned = engine_project.run("cleanup")
    assert cleaned.code == 0, cleaned
    assert engine_project.leftover_dirs() == []


def test_phase_timeout_cancels_and_tears_down(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          r: {type: probe, with: {tag: TAG}}
        agents:
          slow: {type: act, requires: [r], with: {seconds: 30}}
        phases:
          slowpoke: {agents: [slow], timeout: 0.5}
        """
    )
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 1, result
    phase = result.record["phases"]["slowpoke"]
    assert phase["status"] == "timeout"
    assert phase["reason"] == "timed out after 0.5s"
    assert phase["seconds"] < 5
    engine_project.assert_nothing_left(result)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_a_turn_stops_everything(engine_project, signum):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          a: {type: probe, with: {tag: TAG}}
          b: {type: probe, needs: [a], with: {tag: TAG}}
        agents:
          slow: {type: act, requires: [b], with: {seconds: 60}}
        phases:
          long: {agents: [slow]}
          never: {agents: [slow]}
        """
    )
    proc = engine_project.start("run", "flow.yaml")
    engine_project.wait_for_event("turn_started", phase="long")
    code, out, err = send(proc, signum)
    result = engine_project.result(code, out, err)
    assert code == 130, result
    assert result.record["status"] == "interrupted"
    assert result.record["phases"]["long"]["status"] == "cancelled"
    assert result.record["phases"]["never"]["status"] == "skipped"
    stopped = [e["resource"] for e in result.kinds("resource_stopped")]
    assert stopped == ["b", "a"]
    assert result.events[-1]["kind"] == "run_finished"
    engine_project.assert_nothing_left(result)


def test_signal_during_a_resource_start(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          slow: {type: probe, with: {tag: TAG, start_seconds: 30}}
        agents:
          user: {type: act, requires: [slow]}
        phases:
          only: {agents: [user]}
        """
    )
    proc = engine_project.start("run", "flow.yaml")
    engine_project.wait_for_event("resource_starting", resource="slow")
    code, out, err = send(proc, signal.SIGTERM)
    result = engine_project.result(code, out, err)
    assert code == 130, result
    assert result.record["status"] == "interrupted"
    engine_project.assert_nothing_left(result)


def test_kill_9_then_cleanup_leaves_nothing(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        resources:
          a: {type: probe, with: {tag: TAG}}
          b: {type: probe, needs: [a], with: {tag: TAG}}
        agents:
          slow: {type: act, requires: [b], with: {seconds: 60}}
        phases:
          long: {agents: [slow]}
        """
    )
    proc = engine_project.start("run", "flow.yaml")
    started = [
        engine_project.wait_for_event("resource_started", resource=name) for name in ("a", "b")
    ]
    engine_project.wait_for_event("turn_started", phase="long")
    proc.kill()
    proc.communicate(timeout=30)
    pids = [event["attributes"]["pid"] for event in started]
    assert all(alive(pid) for pid in pids)  # a hard kill leaves them behind
    assert len(engine_project.leftover_dirs()) == 2
    cleaned = engine_project.run("cleanup")
    assert cleaned.code == 0, cleaned
    assert "b: killed" in cleaned.out
    assert "a: killed" in cleaned.out
    assert not any(alive(pid) for pid in pids)
    assert engine_project.leftover_dirs() == []
    result = engine_project.result(0, "", "")
    assert result.record["status"] == "killed"
    again = engine_project.run("cleanup")
    assert "nothing to clean up" in again.out
