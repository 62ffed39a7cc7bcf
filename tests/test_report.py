"""Issue 18: `wfrun report` — one self-contained HTML file, checked in a real browser.

Each example is run through the real CLI, its report written, then loaded by headless
Chromium (Debian's `chromium`; `make test` installs it where missing): the page must run
its script with no console error and no request, show every phase and resource, and its
Gantt bars must be the spans in events.jsonl. Screenshots are kept in .artifacts/.
A missing browser fails the test in CI and skips it elsewhere.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Files, WfrunProject, cannot_run

Project = Callable[[Files], WfrunProject]
ARTIFACTS = REPO / ".artifacts"
EXAMPLES = [
    REPO / "workflows" / "hello.yaml",
    REPO / "workflows" / "pipeline.yaml",
    REPO / "workflows" / "agent-loop" / "workflow.yaml",
    REPO / "workflows" / "exploit-and-patch" / "workflow.yaml",
]
IDS = [str(p.relative_to(REPO / "workflows")) for p in EXAMPLES]
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--enable-logging=stderr",
    "--v=0",
]


def _browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "headless chromium is missing: run scripts/chromium.sh (make test does)"
        cannot_run(message)
    return found


def _chromium(browser: str, tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, *_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args, url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _report(project: WfrunProject, workflow: Path) -> tuple[Path, Path, float]:
    outcome = project.run("run", str(workflow))
    outcome.assert_success()
    run_dir = max((project.path / ".wfrun" / "runs").iterdir())
    began = time.monotonic()
    made = project.run("report", "-o", "report.html")
    seconds = time.monotonic() - began
    made.assert_success()
    return run_dir, project.path / "report.html", seconds


def _spans(run_dir: Path) -> dict[str, tuple[float, float]]:
    """Phase spans from events.jsonl: started -> finished, in run seconds."""
    started: dict[str, float] = {}
    spans = {}
    for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["kind"] == "phase_started":
            started[event["phase"]] = event["t"]
        elif event["kind"] == "phase_finished" and event["phase"] in started:
            spans[event["phase"]] = (started[event["phase"]], event["t"])
    return spans


def _bars(dom: str, kind: str) -> dict[str, tuple[float, float]]:
    found = {}
    for tag in re.findall(r"<rect [^>]*data-kind=\"" + kind + r"\"[^>]*>", dom):
        attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', tag))
        found[attrs["data-name"]] = (float(attrs["data-start"]), float(attrs["data-end"]))
    return found


@pytest.mark.parametrize("workflow", EXAMPLES, ids=IDS)
def test_the_report_of_each_example_is_self_contained_and_complete(
    wfrun_project: Project, workflow: Path
) -> None:
    project = wfrun_project({})
    run_dir, report, seconds = _report(project, workflow)
    html = report.read_text(encoding="utf-8")
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    print(f"{workflow.name}: report {len(html.encode())} bytes in {seconds:.2f}s")
    # nothing external: no URL is loaded (a CSP of default-src 'none' backs it up)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "an external URL"
    assert "@import" not in html
    assert "default-src 'none'" in html
    for phase in record["phases"]:
        assert f'id="phase-{phase}"' in html
    for resource in record["resources"]:
        assert f'data-resource="{resource}"' in html
    assert len(html.encode()) < 200_000


@pytest.mark.parametrize("workflow", EXAMPLES, ids=IDS)
def test_the_report_loads_in_chromium_and_matches_the_events(
    wfrun_project: Project, workflow: Path, tmp_path: Path
) -> None:
    browser = _browser()
    project = wfrun_project({})
    run_dir, report, _ = _report(project, workflow)
    url = report.resolve().as_uri()
    loaded = _chromium(browser, tmp_path, url, "--virtual-time-budget=3000", "--dump-dom")
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    dom = loaded.stdout
    assert 'data-ready="yes"' in dom, "the report's script did not run"
    console = [line for line in loaded.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console  # no console message at all: no error, no CSP refusal
    assert not re.search(r"net::ERR_|Refused to", loaded.stderr), loaded.stderr[-3000:]
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    for phase in record["phases"]:
        assert f'id="phase-{phase}"' in dom
    for resource in record["resources"]:
        assert f'data-resource="{resource}"' in dom
    expected = _spans(run_dir)
    shown = _bars(dom, "phase")
    assert shown.keys() == expected.keys()
    for name, (start, end) in expected.items():
        assert shown[name] == pytest.approx((start, end), abs=1e-5), name
    assert set(_bars(dom, "resource")) == set(record["resources"])
    ARTIFACTS.mkdir(exist_ok=True)
    shot = (
        ARTIFACTS
        / f"report-{workflow.parent.name if workflow.name == 'workflow.yaml' else workflow.stem}.png"
    )
    taken = _chromium(
        browser,
        tmp_path,
        url,
        "--virtual-time-budget=3000",
        "--window-size=1200,1600",
        f"--screenshot={shot}",
    )
    assert taken.returncode == 0, taken.stderr[-3000:]
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_report_of_a_missing_run_is_a_usage_error(wfrun_project: Project) -> None:
    project = wfrun_project({})
    outcome = project.run("report", "nope", "-o", "x.html")
    outcome.assert_invalid()
    assert "no run" in (outcome.out + outcome.err).lower(), outcome
    assert not (project.path / "x.html").exists()


def _many_phases(count: int) -> Files:
    phases = "\n".join(f"  p{i}: {{agents: [noop]}}" for i in range(count))
    return {
        "flow.yaml": f"version: 1\nexecution: graph\nagents:\n  noop: {{type: python, with: {{call: 'h:noop'}}}}\nphases:\n{phases}\n",
        "h.py": "def noop(ctx):\n    return 'ok'\n",
    }


def test_the_report_of_a_large_run_is_quick(wfrun_project: Project) -> None:
    project = wfrun_project(_many_phases(2000))
    project.run("run", "flow.yaml").assert_success()
    began = time.monotonic()
    project.run("report", "-o", "big.html").assert_success()
    seconds = time.monotonic() - began
    html = (project.path / "big.html").read_text(encoding="utf-8")
    print(f"2000 phases: report {len(html.encode())} bytes in {seconds:.2f}s")
    assert html.count('data-kind="phase"') == 2000
    assert "the graph is drawn up to" in html
    assert seconds < 30
