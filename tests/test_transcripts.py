"""Issue 18: transcripts, tokens and cost, budget: and max_spawns:, failures explained.

Through the real CLI (in-process) on real files, with real processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, Files, WfrunProject

AGENT_LOOP = REPO / "workflows" / "agent-loop" / "workflow.yaml"
Project = Callable[[Files], WfrunProject]


def _run_dir(project: WfrunProject) -> Path:
    runs = sorted((project.path / ".wfrun" / "runs").iterdir())
    return runs[-1]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _transcript(run_dir: Path, phase: str) -> list[dict[str, Any]]:
    """The phase's entries in the run's one transcript file."""
    return [e for e in _lines(run_dir / "transcript.jsonl") if e["phase"] == phase]


def test_agent_loop_record_holds_every_prompt_and_reply_tokens_and_cost(
    wfrun_project: Project,
) -> None:
    project = wfrun_project({})
    project.run("run", str(AGENT_LOOP)).assert_success()
    run_dir = _run_dir(project)
    entries = _transcript(run_dir, "solve")
    calls = [e for e in entries if e["type"] == "model_call"]
    answers = yaml.safe_load((AGENT_LOOP.parent / "answers.yaml").read_text(encoding="utf-8"))
    assert [c["reply"] for c in calls] == answers  # every reply, in order
    # every prompt: each call sends the system prompt, the task, and all earlier replies
    assert calls[0]["messages"][0]["role"] == "system"
    assert "Fix project/stats.py" in calls[0]["messages"][1]["content"]
    assert [m["content"] for m in calls[-1]["messages"] if m["role"] == "assistant"] == [
        a.strip() for a in answers[:-1]
    ]
    assert all(c["tokens_in"] > 0 and c["tokens_out"] > 0 for c in calls)
    assert calls[0]["action"] == {"kind": "command", "command": calls[0]["action"]["command"]}
    commands = [e for e in entries if e["type"] == "command"]
    assert len(commands) == len(answers) - 1
    assert commands[0]["argv"][:2] == ["/bin/sh", "-c"]
    assert {"exit_code", "output", "output_chars", "cwd"} <= set(commands[0])
    kinds = [e["type"] for e in entries]
    assert kinds[0] == "turn_input"
    assert kinds[-1] == "turn_result"
    # totals in run.json, per phase and for the run, priced by the model's price:
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    tokens_in = sum(c["tokens_in"] for c in calls)
    tokens_out = sum(c["tokens_out"] for c in calls)
    assert record["tokens"] == {"in": tokens_in, "out": tokens_out}
    assert record["phases"]["solve"]["tokens"] == {"in": tokens_in, "out": tokens_out}
    expected_cost = (tokens_in * 0.15 + tokens_out * 0.60) / 1e6
    assert abs(record["cost"] - expected_cost) < 1e-6
    shown = project.run("show")
    shown.assert_success()
    assert f"tokens: {tokens_in} in, {tokens_out} out" in shown.out, shown
    assert f"cost {expected_cost:.4f}" in shown.out, shown


def test_transcripts_mask_secrets_cut_floods_and_take_python_entries(
    wfrun_project: Project, monkeypatch: Any
) -> None:
    monkeypatch.setenv("MY_TOKEN", "hunter2-very-secret")
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            secrets: [MY_TOKEN]
            agents:
              loud:
                type: shell
                with:
                  shell: true
                  max_output: 100000
                  run: "echo token=$MY_TOKEN; head -c 60000 /dev/zero | tr '\\\\0' x"
              py: {type: python, with: {call: "helper:act"}}
            phases:
              one: {agents: [loud]}
              two: {agents: [py]}
            """,
            "helper.py": """
            def act(ctx):
                ctx.transcript("note", text="looked at " + ctx.phase, extra={"n": 1})
                return "fine"
            """,
        }
    )
    project.run("run", "flow.yaml").assert_success()
    run_dir = _run_dir(project)
    text = (run_dir / "transcript.jsonl").read_text(encoding="utf-8")
    assert "hunter2-very-secret" not in text
    assert "token=***" in text
    command = next(e for e in _transcript(run_dir, "one") if e["type"] == "command")
    assert command["output_chars"] > 60_000
    assert len(command["output"]) < 25_000
    assert "…[cut: " in command["output"]
    notes = [e for e in _transcript(run_dir, "two") if e["type"] == "note"]
    assert notes == [
        {
            **notes[0],
            "text": "looked at two",
            "extra": {"n": 1},
            "agent": "py",
            "iteration": 1,
            "phase": "two",
        }
    ]


def _budget_flow(budget: str) -> Files:
    return {
        "flow.yaml": f"""
        version: 1
        budget: {budget}
        resources:
          llm:
            type: model
            with:
              provider: replay
              script: {AGENT_LOOP.parent / "answers.yaml"}
              estimate_tokens: true
              price: {{input: 1, output: 2}}
          ws: {{type: workspace}}
          svc:
            type: process
            with: {{command: [sleep, "300"]}}
        agents:
          solver: {{type: executor, requires: [llm, ws, svc], with: {{task: do it}}}}
          slow: {{type: shell, requires: [svc], with: {{run: [sleep, "30"]}}}}
        phases:
          solve: {{agents: [solver], max_iterations: 8}}
          later: {{agents: [slow]}}
        """
    }


def _assert_stopped_with_teardown(project: WfrunProject, outcome: Any, reason: str) -> None:
    assert outcome.code == 1, outcome
    run_dir = _run_dir(project)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed", record
    assert record["reason"].startswith(reason), record
    events = _lines(run_dir / "events.jsonl")
    started = {e["resource"] for e in events if e["kind"] == "resource_started"}
    stopped = {e["resource"] for e in events if e["kind"] == "resource_stopped"}
    assert started
    assert started == stopped, events
    for event in events:
        pid = (
            event.get("attributes", {}).get("pid") if event["kind"] == "resource_started" else None
        )
        if pid:
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text()
            ), f"pid {pid} survived"


def test_a_token_budget_stops_a_run_that_would_use_more(wfrun_project: Project) -> None:
    project = wfrun_project(_budget_flow("{tokens: 300}"))
    outcome = project.run("run", "flow.yaml")
    _assert_stopped_with_teardown(project, outcome, "budget exceeded: ")
    record = json.loads((_run_dir(project) / "run.json").read_text(encoding="utf-8"))
    assert "tokens used, the budget is 300" in record["reason"]
    assert record["phases"]["later"]["status"] == "skipped"
    assert record["phases"]["solve"]["iterations"] < 5  # it did not get to finish


def test_a_seconds_budget_stops_a_slow_run(wfrun_project: Project) -> None:
    flow = _budget_flow("{seconds: 1.5}")
    text = flow["flow.yaml"]
    assert isinstance(text, str)
    flow = {"flow.yaml": text.replace("solve: {agents: [solver], max_iterations: 8}\n", "")}
    project = wfrun_project(flow)
    outcome = project.run("run", "flow.yaml")
    _assert_stopped_with_teardown(
        project, outcome, "budget exceeded: the run took longer than 1.5s"
    )
    record = json.loads((_run_dir(project) / "run.json").read_text(encoding="utf-8"))
    assert record["seconds"] < 20


def test_max_spawns_stops_a_run_that_spawns_more(wfrun_project: Project) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            max_spawns: 2
            agents:
              spawner: {type: python, with: {call: "helper:spawn"}}
              noop: {type: python, with: {call: "helper:noop"}}
            templates:
              child: {agents: [noop]}
            phases:
              start: {agents: [spawner], may_spawn: [child]}
            """,
            "helper.py": """
            from wfrun.engine.api import Spawn, TurnResult

            def spawn(ctx):
                return TurnResult(done=True, spawn=[Spawn("child")] * 3)

            def noop(ctx):
                return "ok"
            """,
        }
    )
    outcome = project.run("run", "flow.yaml")
    _assert_stopped_with_teardown_no_resources(project, outcome)


def _assert_stopped_with_teardown_no_resources(project: WfrunProject, outcome: Any) -> None:
    assert outcome.code == 1, outcome
    record = json.loads((_run_dir(project) / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed"
    assert record["reason"].startswith("max_spawns exceeded"), record
    assert len([p for p in record["phases"] if p.startswith("child")]) <= 2


def test_show_and_the_summary_explain_each_failure(wfrun_project: Project) -> None:
    phases = "\n".join(f"  ok{i}: {{agents: [ok]}}" for i in range(30))
    project = wfrun_project(
        {
            "flow.yaml": f"""
version: 1
execution: graph
agents:
  ok: {{type: shell, with: {{run: [true]}}}}
  bad: {{type: shell, with: {{shell: true, run: "echo first; echo second; echo boom >&2; exit 7"}}}}
phases:
{phases}
  broken: {{agents: [bad]}}
"""
        }
    )
    outcome = project.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    # the plain summary names the failed phase, however many passed
    assert outcome.out.splitlines()[-1] == "  failed phases (1): broken (failed)", outcome
    shown = project.run("show")
    assert "✗ broken: failed, exit code 7 — the last turn failed" in shown.out, shown
    tail = shown.out.split("✗ broken", 1)[1]
    for line in ("first", "second", "boom"):
        assert line in tail, shown


_TICKER = (
    "import sys, time\n"
    "for i in range(3):\n"
    "    print(f'tick {i} {time.time():.3f}', flush=True)\n"
    "    time.sleep(1)\n"
)


def test_a_turns_lines_stream_live_to_plain_output_and_events_jsonl(tmp_path: Path) -> None:
    (tmp_path / "ticker.py").write_text(_TICKER, encoding="utf-8")
    (tmp_path / "flow.yaml").write_text(
        "version: 1\n"
        "agents:\n"
        f"  tick: {{type: shell, with: {{run: [{sys.executable}, ticker.py]}}}}\n"
        "phases:\n"
        "  ticking: {agents: [tick]}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfrun", "run", "flow.yaml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    plain: dict[str, float] = {}  # "tick N" -> when the plain line arrived

    def read_plain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "ticking: tick: tick " in line:
                plain.setdefault(line.split("tick: ", 1)[1][:6], time.time())

    reader = threading.Thread(target=read_plain, daemon=True)
    reader.start()
    seen: dict[str, tuple[float, float]] = {}  # "tick N" -> (printed at, in events.jsonl at)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        for events in tmp_path.glob(".wfrun/runs/*/events.jsonl"):
            for line in events.read_text(encoding="utf-8").splitlines():
                if '"agent_log"' in line and '"tick ' in line:
                    text = json.loads(line)["line"]
                    seen.setdefault(text[:6], (float(text.split()[2]), time.time()))
        time.sleep(0.02)
    assert proc.wait(timeout=60) == 0
    reader.join(timeout=10)
    assert proc.stderr is not None
    assert proc.stdout is not None
    proc.stderr.close()
    proc.stdout.close()
    assert sorted(seen) == ["tick 0", "tick 1", "tick 2"], seen
    lags = {name: arrived - printed for name, (printed, arrived) in seen.items()}
    plain_lags = {name: plain[name] - seen[name][0] for name in plain}
    print(f"events.jsonl lags: {lags}; plain-line lags: {plain_lags}")
    assert all(lag < 0.5 for lag in lags.values()), lags
    assert sorted(plain_lags) == ["tick 0", "tick 1", "tick 2"], plain
    assert all(lag < 0.5 for lag in plain_lags.values()), plain_lags


def test_a_flood_of_output_is_bounded_live_and_kept_in_the_transcript(
    wfrun_project: Project,
) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            agents:
              flood: {type: shell, with: {shell: true, run: "seq 1 200000"}}
            phases:
              loud: {agents: [flood]}
            """
        }
    )
    began = time.monotonic()
    project.run("run", "flow.yaml").assert_success()
    seconds = time.monotonic() - began
    run_dir = _run_dir(project)
    logs = [e for e in _lines(run_dir / "events.jsonl") if e["kind"] == "agent_log"]
    windows = seconds / 0.5 + 2
    assert len(logs) <= windows * 21, len(logs)  # 20 lines and one note per half second
    assert logs[0]["line"] == "1"
    assert any("lines not shown live" in e["line"] for e in logs), logs[-3:]
    [command] = [e for e in _transcript(run_dir, "loud") if e["type"] == "command"]
    assert command["output"].rstrip().endswith("200000")


def test_a_run_writes_one_transcript_file_however_many_phases(wfrun_project: Project) -> None:
    """Files cost more to create than a short phase costs to run: the record of 60 phases
    holds the same files as that of one, and each phase's entries name it."""
    phases = "\n".join(f"  p{i}: {{agents: [py]}}" for i in range(60))
    project = wfrun_project(
        {
            "flow.yaml": "version: 1\nagents:\n  py: {type: python, with: {call: 'helper:act'}}\n"
            f"phases:\n{phases}\n",
            "helper.py": """
            def act(ctx):
                ctx.transcript("note", text="in " + ctx.phase, agent="not me")
                return ""
            """,
        }
    )
    project.run("run", "flow.yaml").assert_success()
    run_dir = _run_dir(project)
    made = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    assert made == ["events.jsonl", "identities.json", "run.json", "transcript.jsonl"]
    entries = _lines(run_dir / "transcript.jsonl")
    assert [e["type"] for e in _transcript(run_dir, "p7")] == ["turn_input", "note", "turn_result"]
    notes = [e for e in entries if e["type"] == "note"]
    assert [(n["phase"], n["text"]) for n in notes] == [(f"p{i}", f"in p{i}") for i in range(60)]
    assert {n["agent"] for n in notes} == {"py"}  # the stamp is the engine's, not the agent's
