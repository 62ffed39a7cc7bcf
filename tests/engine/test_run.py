"""`wfrun run` end to end: order, parallelism, skips, spawns, resource lifetimes, exit codes."""

from __future__ import annotations

import json
import signal
import time

FLOW = """
version: 1
plugins: [plugin_types]
resources:
  base: {type: probe, with: {tag: TAG}}
  app: {type: probe, needs: [base], with: {tag: TAG}}
  late: {type: probe, with: {tag: TAG}}
agents:
  first: {type: act, requires: [app], with: {say: "one"}}
  second: {type: act, requires: [late], with: {say: "two"}}
phases:
  one: {agents: [first]}
  two: {agents: [second]}
"""


def test_sequential_run_starts_late_and_stops_early(engine_project):
    engine_project.write(FLOW)
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 0, result
    order = [
        (e["kind"], e.get("phase") or e.get("resource"))
        for e in result.events
        if e["kind"] in ("phase_started", "phase_finished", "resource_started", "resource_stopped")
    ]
    assert order == [
        ("phase_started", "one"),
        ("resource_started", "base"),
        ("resource_started", "app"),
        ("phase_finished", "one"),
        ("resource_stopped", "app"),
        ("resource_stopped", "base"),
        ("phase_started", "two"),
        ("resource_started", "late"),
        ("phase_finished", "two"),
        ("resource_stopped", "late"),
    ]
    assert result.record["status"] == "succeeded"
    assert result.record["exit_code"] == 0
    assert {name: len(r["starts"]) for name, r in result.record["resources"].items()} == {
        "base": 1,
        "app": 1,
        "late": 1,
    }
    assert (result.run_dir / "outputs" / "two.txt").read_text() == "two"
    engine_project.assert_nothing_left(result)


def test_two_half_second_phases_run_in_parallel(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        execution: graph
        agents:
          slow: {type: act, with: {seconds: 0.5}}
        phases:
          a: {agents: [slow]}
          b: {agents: [slow]}
        """
    )
    result = engine_project.run("run", "flow.yaml", "--max-parallel", "2")
    assert result.code == 0, result
    started = {e["phase"]: e["t"] for e in result.kinds("phase_started")}
    finished = {e["phase"]: e["t"] for e in result.kinds("phase_finished")}
    span = max(finished.values()) - min(started.values())
    assert span < 0.9, (span, result)


def test_phases_that_wait_fill_every_free_slot(engine_project):
    """Workers join on demand (idle CPU, or no start for a while): waiting phases get them."""
    phases = [f"long{i}: {{agents: [long]}}" for i in range(8)]
    phases += [f"short{i}: {{agents: [short]}}" for i in range(32)]
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        execution: graph
        agents:
          long: {type: act, with: {seconds: 0.4}}
          short: {type: act, with: {seconds: 0.05}}
        phases: {PHASES}
        """.replace("PHASES", ", ".join(phases))
    )
    result = engine_project.run("run", "flow.yaml", "--max-parallel", "8")
    assert result.code == 0, result
    started = {e["phase"]: e["t"] for e in result.kinds("phase_started")}
    finished = {e["phase"]: e["t"] for e in result.kinds("phase_finished")}
    longs = [started[f"long{i}"] for i in range(8)]
    assert max(longs) - min(longs) < 0.2, longs  # all eight slots taken at once
    span = max(finished.values()) - min(started.values())
    assert span < 1.4, span  # 8 x 0.4 s + 32 x 0.05 s over 8 slots is 0.6 s; serial is 4.8 s


def test_max_parallel_one_serialises_a_graph(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        execution: graph
        agents:
          slow: {type: act, with: {seconds: 0.3}}
        phases:
          a: {agents: [slow]}
          b: {agents: [slow]}
        """
    )
    result = engine_project.run("run", "flow.yaml", "--max-parallel", "1")
    assert result.code == 0, result
    finished = {e["phase"]: e["t"] for e in result.kinds("phase_finished")}
    started = {e["phase"]: e["t"] for e in result.kinds("phase_started")}
    assert started["b"] >= finished["a"], result


def test_failed_need_skips_dependents_unless_if_handles_it(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        execution: graph
        agents:
          bad: {type: act, with: {fail: true}}
          good: {type: act}
        phases:
          build: {agents: [bad], max_iterations: 1}
          test: {agents: [good], needs: [build]}
          report: {agents: [good], needs: [test]}
          on_failure: {agents: [good], needs: [build], if: phases.build.failed}
        """
    )
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 1, result
    phases = result.record["phases"]
    assert phases["build"]["status"] == "failed"
    assert phases["test"] == {
        "status": "skipped",
        "reason": "needs did not succeed: build (failed)",
    }
    assert phases["report"]["status"] == "skipped"
    assert phases["on_failure"]["status"] == "succeeded"
    assert result.record["status"] == "failed"


def test_sequential_failure_ends_the_run(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        agents:
          bad: {type: act, with: {fail: true, done: false}}
          good: {type: act}
        phases:
          first: {agents: [bad], max_iterations: 2}
          second: {agents: [good]}
          cleanup: {agents: [good], if: phases.first.failed}
        """
    )
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 1, result
    phases = result.record["phases"]
    assert phases["first"]["status"] == "failed"
    assert phases["first"]["iterations"] == 2
    assert phases["second"] == {"status": "skipped", "reason": "an earlier phase failed"}
    assert phases["cleanup"]["status"] == "succeeded"


def test_if_false_skips_and_expect_failure_inverts(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        params: {go: false}
        agents:
          failing: {type: act, with: {fail: true}}
          good: {type: act}
        phases:
          maybe: {agents: [good], if: params.go}
          verify: {agents: [failing], expect: failure, max_iterations: 1}
        """
    )
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 0, result
    assert result.record["phases"]["maybe"] == {
        "status": "skipped",
        "reason": "if: params.go is false",
    }
    assert result.record["phases"]["verify"]["status"] == "succeeded"
    result = engine_project.run("run", "flow.yaml", "-p", "go=true")
    assert result.record["phases"]["maybe"]["status"] == "succeeded", result


def test_spawned_phase_runs_after_its_spawner_and_keeps_resources(engine_project):
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        execution: graph
        resources:
          shared: {type: probe, with: {tag: TAG}}
        agents:
          spawner: {type: act, requires: [shared], with: {spawn: [follow]}}
          user: {type: act, requires: [shared]}
        phases:
          main: {agents: [spawner], may_spawn: [follow]}
        templates:
          follow: {agents: [user]}
        """
    )
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 0, result
    spawned = result.kinds("phase_spawned")
    assert [(e["phase"], e["spawner"], e["reacquire"]) for e in spawned] == [
        ("follow-1", "main", [])
    ]
    assert result.record["phases"]["follow-1"]["status"] == "succeeded"
    assert result.record["phases"]["follow-1"]["spawned_by"] == "main"
    assert len(result.record["resources"]["shared"]["starts"]) == 1  # held for the spawn
    engine_project.assert_nothing_left(result)


def test_json_lines_and_quiet(engine_project):
    engine_project.write(FLOW)
    result = engine_project.run("run", "flow.yaml", "--json")
    assert result.code == 0, result

    kinds = [json.loads(line)["kind"] for line in result.out.splitlines()]
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_finished"
    quiet = engine_project.run("run", "flow.yaml", "--quiet")
    assert quiet.code == 0
    assert quiet.out == "", quiet


def test_plain_lines_when_not_a_terminal(engine_project):
    engine_project.write(FLOW)
    result = engine_project.run("run", "flow.yaml")
    lines = [line.split("] ", 1)[1] for line in result.out.splitlines()]
    assert "one: started (first)" in lines, result
    assert "one: first #1 ok: one" in lines
    assert lines[-1].startswith("run succeeded in ")


def test_runs_and_show_list_the_record(engine_project):
    engine_project.write(FLOW)
    first = engine_project.run("run", "flow.yaml")
    listing = engine_project.run("runs")
    assert first.run_dir.name in listing.out, listing
    shown = engine_project.run("show", first.run_dir.name[:20])
    assert "succeeded" in shown.out, shown
    missing = engine_project.run("show", "nope")
    assert missing.code == 2, missing


def test_dry_run_prints_the_plan_and_runs_nothing(engine_project):
    engine_project.write(FLOW)
    result = engine_project.run("run", "flow.yaml", "--dry-run")
    assert result.code == 0, result
    assert result.run_dir is None
    assert "app" in result.out


def test_invalid_file_is_exit_2_before_anything_starts(engine_project):
    engine_project.write("version: 1\nphases: {a: {agents: [ghost]}}\n")
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 2, result
    assert "flow.yaml:2:23: error: phase 'a' names unknown agent 'ghost'" in result.err
    assert result.run_dir is None


def test_timing_of_a_noop_run_is_small(engine_project):
    engine_project.write(FLOW)
    began = time.monotonic()
    result = engine_project.run("run", "flow.yaml")
    assert result.code == 0
    assert time.monotonic() - began < 10


def test_events_reach_the_record_while_a_turn_is_still_running(engine_project):
    """Phase events are batched, but `tail -f events.jsonl` must not lag behind a long turn."""
    engine_project.write(
        """
        version: 1
        plugins: [plugin_types]
        agents:
          slow: {type: act, with: {seconds: 6}}
        phases:
          long: {agents: [slow]}
        """
    )
    proc = engine_project.start("run", "flow.yaml")
    started = engine_project.wait_for_event("turn_started", phase="long")
    assert proc.poll() is None, "the record lagged until the turn ended"
    assert started["t"] < 3
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
