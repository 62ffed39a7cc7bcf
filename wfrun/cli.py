"""The `wfrun` command: parses arguments, calls one core function, renders the result."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from wfrun import constants as C
from wfrun.errors import Diagnostic, SpecError, UsageError
from wfrun.ui.exits import FAILED, INVALID, OK, ExitCode, exit_codes
from wfrun.ui.terminal import Terminal

if TYPE_CHECKING:
    from wfrun.planner import Plan
    from wfrun.spec.model import Workflow

# Each command imports the rest where it starts: `validate` runs in every pre-commit
# hook and CI job, and pays neither for the engine nor for the planner (nor `--help`
# for anything).

app = typer.Typer(
    name="wfrun",
    help="Run multi-phase agent workflows from YAML, with resources alive exactly when needed.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])


def _print_version(value: bool) -> None:
    if value:
        from wfrun import __version__  # noqa: PLC0415 - only when asked

        typer.echo(f"wfrun {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Run multi-phase agent workflows from YAML, with resources alive exactly when needed."""


class DiagnosticFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


ParamsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="Override a param; typed like its default (-p port=9000 stays a number).",
    ),
]


LimitOption = Annotated[
    list[str] | None,
    typer.Option(
        "--limit",
        metavar="TYPE=N",
        help="At most N resources of this type (or pool) alive at once; beats the file's.",
    ),
]


def parse_limits(values: list[str] | None) -> dict[str, int]:
    """`--limit TYPE=N` pairs (N a whole number from 1)."""
    limits: dict[str, int] = {}
    for item in values or []:
        name, _, value = item.partition("=")
        if not name.strip() or not value.strip().isdigit() or int(value) < 1:
            message = f"--limit expects TYPE=N with N >= 1, got {item!r}"
            raise UsageError(message, hint="e.g. --limit container=2")
        limits[name.strip()] = int(value)
    return limits


def planned(workflow: Workflow, limits: dict[str, int]) -> Plan:
    """The plan with the limits; limits it cannot keep are positioned errors (exit 2)."""
    from wfrun.planner import plan_workflow  # noqa: PLC0415 - lazy: see the imports
    from wfrun.planner.capacity import diagnostics  # noqa: PLC0415 - lazy: see the imports

    result = plan_workflow(workflow, limits)
    unknown = [k for k in result.capacity.unknown_limits if k not in workflow.limits]
    if unknown:
        message = f"--limit {unknown[0]}: no resource of this workflow has that type or pool"
        raise UsageError(message, hint="use a resource type (e.g. process) or a pool: name")
    found = diagnostics(result.capacity, workflow)
    if found:
        raise SpecError(found)
    return result


WorkflowFile = Annotated[Path, typer.Argument(help="The workflow file.", show_default=False)]
RunsDirOption = Annotated[
    Path,
    typer.Option("--runs-dir", help="Where run records live.", envvar="WFRUN_RUNS_DIR"),
]
# `--resume [RUN]` would need an optional-value option, which typer's click lacks: the
# flag resumes this workflow's last run, `--resume-from RUN` a chosen one.
ResumeOption = Annotated[
    bool,
    typer.Option("--resume", help="Reuse the phases this workflow's last run finished unchanged."),
]
ResumeFromOption = Annotated[
    str | None,
    typer.Option("--resume-from", metavar="RUN", help="Resume this run (id or prefix)."),
]


def _handled(command: F) -> F:
    """Run a command under the exit-code mapping, so no user sees a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        terminal = Terminal()
        try:
            with exit_codes(terminal):
                code = command(terminal, *args, **kwargs)
        except ExitCode as exc:
            raise typer.Exit(int(exc.code or 0)) from None
        raise typer.Exit(code or OK)

    wrapper.__signature__ = _without_first(command)  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _without_first(command: Callable[..., Any]) -> Any:
    import inspect  # noqa: PLC0415 - used only while building the app

    signature = inspect.signature(command, eval_str=True)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def parse_params(values: list[str] | None) -> dict[str, str]:
    """`-p name=value` pairs; the loader types each value like the param's default."""
    params: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            message = f"-p expects NAME=VALUE, got {item!r}"
            raise UsageError(message, hint="e.g. -p port=9000")
        params[name.strip()] = value
    return params


@app.command()
@_handled
def validate(
    terminal: Terminal,
    files: Annotated[
        list[Path], typer.Argument(help="Workflow files to check.", show_default=False)
    ],
    params: ParamsOption = None,
    output_format: Annotated[
        DiagnosticFormat,
        typer.Option("--format", "-f", help="text for people, json for tools, github for CI."),
    ] = DiagnosticFormat.text,
    limit: LimitOption = None,
) -> int:
    """Check workflow (and sweep) files: every problem as file:line:col, exit 2 if any."""
    from wfrun.registry import default_registry  # noqa: PLC0415 - lazy: see the imports
    from wfrun.spec import inspect_workflow  # noqa: PLC0415 - lazy: see the imports
    from wfrun.sweep.spec import check_cells, is_sweep_file, read_sweep  # noqa: PLC0415
    from wfrun.ui import diagnostics as diagnostics_view  # noqa: PLC0415 - lazy: see the imports

    overrides = parse_params(params)
    limits = parse_limits(limit)
    registry = default_registry()
    found: list[Diagnostic] = []
    for f in files:
        if is_sweep_file(f):  # a sweep file: its own keys, then every cell's workflow
            sweep, problems = read_sweep(f)
            found += problems if sweep is None else check_cells(sweep, sweep.cells())
            continue
        inspection = inspect_workflow(f, params=overrides, registry=registry)
        found += inspection.diagnostics
        workflow = inspection.workflow
        if workflow is not None and (limits or workflow.limits):  # limits no plan keeps
            from wfrun.planner import plan_workflow  # noqa: PLC0415 - only with limits
            from wfrun.planner.capacity import diagnostics  # noqa: PLC0415 - only with limits

            found += diagnostics(plan_workflow(workflow, limits).capacity, workflow)
    terminal.write(diagnostics_view.render(found, len(files), output_format.value))
    return INVALID if any(d.severity == "error" for d in found) else OK


@app.command()
@_handled
def schema(
    terminal: Terminal,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="The schema of sweep files.")] = False,
) -> int:
    """Print the JSON Schema of workflow files (for editors: yaml-language-server)."""
    from wfrun.registry import default_registry  # noqa: PLC0415 - lazy: see the imports
    from wfrun.spec.schema import workflow_schema  # noqa: PLC0415 - lazy: see the imports
    from wfrun.sweep.spec import sweep_schema  # noqa: PLC0415 - lazy: see the imports

    document = sweep_schema() if sweep else workflow_schema(default_registry())
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        terminal.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    return OK


@app.command("types")
@_handled
def list_types(
    terminal: Terminal,
    name: Annotated[
        str | None, typer.Argument(help="Show one type's `with:` fields in full.")
    ] = None,
) -> int:
    """List the resource and agent types (built-in and plugins) with their settings."""
    from wfrun.registry import default_registry  # noqa: PLC0415 - lazy: see the imports
    from wfrun.ui import types_view  # noqa: PLC0415 - lazy: see the imports

    types_view.render(terminal.out, default_registry(), name)
    return OK


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    mermaid = "mermaid"
    mermaid_gantt = "mermaid-gantt"
    dot = "dot"


@app.command()
@_handled
def plan(
    terminal: Terminal,
    file: WorkflowFile,
    params: ParamsOption = None,
    output_format: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            "-f",
            help="table + Gantt chart, json for tools, mermaid (the DAG), mermaid-gantt, dot.",
        ),
    ] = PlanFormat.table,
    limit: LimitOption = None,
    resume: ResumeOption = False,
    resume_from: ResumeFromOption = None,
    runs_dir: RunsDirOption = Path(C.RUNS_DIR),
) -> int:
    """Show when each resource starts and stops, without running anything."""
    from wfrun.spec import load_workflow  # noqa: PLC0415 - lazy: see the imports
    from wfrun.ui import plan_view  # noqa: PLC0415 - lazy: see the imports

    workflow = load_workflow(file, params=parse_params(params))
    shown = planned(workflow, parse_limits(limit))
    if resume or resume_from:
        from wfrun.engine.resume import decide, find_parent  # noqa: PLC0415 - only resuming

        resumed = decide(workflow, find_parent(runs_dir, workflow, resume_from))
        plan_view.render_resume(resumed, shown, terminal.out, json_format=output_format.value)
        return OK
    if output_format is PlanFormat.json:
        terminal.write(json.dumps(shown.as_dict(), indent=2) + "\n")
    elif output_format is PlanFormat.mermaid:
        terminal.write(plan_view.plan_flowchart(shown))
    elif output_format is PlanFormat.mermaid_gantt:
        terminal.write(plan_view.plan_mermaid(shown))
    elif output_format is PlanFormat.dot:
        terminal.write(plan_view.plan_dot(shown))
    else:
        plan_view.render_plan(shown, terminal.out)
    return OK


@app.command()
@_handled
def run(
    terminal: Terminal,
    file: WorkflowFile,
    params: ParamsOption = None,
    max_parallel: Annotated[
        int, typer.Option("--max-parallel", "-j", min=1, help="Phases at once (graph).")
    ] = C.DEFAULT_MAX_PARALLEL,
    json_lines: Annotated[bool, typer.Option("--json", help="Events as JSON lines.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only problems.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; run nothing.")
    ] = False,
    runs_dir: RunsDirOption = Path(C.RUNS_DIR),
    limit: LimitOption = None,
    resume: ResumeOption = False,
    resume_from: ResumeFromOption = None,
) -> int:
    """Run a workflow with live progress; the record goes to .wfrun/runs/<id>/."""
    from wfrun.engine.runner import run_workflow  # noqa: PLC0415 - lazy: see the imports
    from wfrun.spec import load_workflow  # noqa: PLC0415 - lazy: see the imports
    from wfrun.ui import plan_view  # noqa: PLC0415 - lazy: see the imports
    from wfrun.ui.progress import progress_sinks  # noqa: PLC0415 - lazy: see the imports

    workflow = load_workflow(file, params=parse_params(params))
    plan = planned(workflow, parse_limits(limit))
    if dry_run:
        plan_view.render_plan(plan, terminal.out)
        return OK
    resuming = resume or resume_from is not None
    resumed = _resumable(workflow, runs_dir, resume_from, terminal) if resuming else None
    sinks = progress_sinks(terminal.out, json_lines=json_lines, quiet=quiet)
    summary = run_workflow(
        workflow,
        plan=plan,
        runs_dir=runs_dir,
        max_parallel=max_parallel,
        sinks=sinks,
        resume=resumed,
    )
    return summary.exit_code


def _resumable(workflow: Workflow, runs_dir: Path, run_id: str | None, terminal: Terminal) -> Any:
    """The parent run's decisions; a killed parent is cleaned up first (issue 19)."""
    from wfrun.engine.history import read_run  # noqa: PLC0415 - lazy: see the imports
    from wfrun.engine.journal import cleanup_run  # noqa: PLC0415 - lazy: see the imports
    from wfrun.engine.resume import decide, find_parent  # noqa: PLC0415 - lazy: see the imports
    from wfrun.registry import default_registry  # noqa: PLC0415 - lazy: see the imports
    from wfrun.ui import run_view  # noqa: PLC0415 - lazy: see the imports

    parent = find_parent(runs_dir, workflow, run_id)
    status = str(read_run(parent).get("status", ""))
    if status == "running":
        message = f"run {parent.name} is still running"
        raise UsageError(message, hint="wait for it, or stop it (Ctrl-C, kill) and resume")
    if "wfrun cleanup" in status:  # killed, not yet cleaned up: do that first
        run_view.render_cleanup(terminal.out, [cleanup_run(parent, default_registry())])
    return decide(workflow, parent)


SWEEPS_DIR = ".wfrun/sweeps"
SweepsDirOption = Annotated[
    Path,
    typer.Option("--sweeps-dir", help="Where sweep records live.", envvar="WFRUN_SWEEPS_DIR"),
]


class TableFormat(StrEnum):
    text = "text"
    csv = "csv"
    json = "json"


@app.command()
@_handled
def sweep(
    terminal: Terminal,
    target: Annotated[
        str,
        typer.Argument(
            help="A workflow file, a sweep file, or (with --resume) a sweep id.",
            show_default=False,
        ),
    ],
    matrix: Annotated[
        list[str] | None,
        typer.Option("--matrix", "-m", metavar="NAME=V1,V2", help="A param's values."),
    ] = None,
    trials: Annotated[int | None, typer.Option("--trials", min=1, help="Runs per cell.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Cells at once.")] = 1,
    cell_timeout: Annotated[
        float | None, typer.Option("--cell-timeout", min=0.1, help="Seconds per cell.")
    ] = None,
    limit: LimitOption = None,
    dask: Annotated[
        str | None,
        typer.Option("--dask", metavar="ADDRESS", help="tcp://host:8786, or local."),
    ] = None,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Dask: reruns of a cell whose worker died.")
    ] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Run a past sweep's cells that did not succeed.")
    ] = False,
    json_lines: Annotated[bool, typer.Option("--json", help="Cell events as JSON lines.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only problems.")] = False,
    output_format: Annotated[
        TableFormat, typer.Option("--format", "-f", help="The results: text, csv or json.")
    ] = TableFormat.text,
    sweeps_dir: SweepsDirOption = Path(SWEEPS_DIR),
) -> int:
    """Run a workflow over a matrix of params x trials; each cell a full run."""
    from wfrun.sweep import record as records  # noqa: PLC0415 - lazy: see the imports
    from wfrun.sweep import spec  # noqa: PLC0415 - lazy: see the imports
    from wfrun.sweep.runner import SweepOptions, run_sweep  # noqa: PLC0415 - lazy
    from wfrun.ui import sweep_view  # noqa: PLC0415 - lazy: see the imports

    limits = parse_limits(limit)
    if resume:
        found = records.find_sweep(sweeps_dir, target)
        if found is None:
            msg = f"no sweep {target!r} in {sweeps_dir}"
            raise UsageError(msg, hint="wfrun show SWEEP_ID")
        record = records.load_record(found)
    else:
        path = Path(target)
        if spec.is_sweep_file(path):
            if matrix:
                msg = "-m is for a workflow file"
                raise UsageError(msg, hint="put it in the sweep's matrix:")
            chosen = spec.load_sweep_or_raise(path)
            if trials is not None:
                chosen = dataclasses.replace(chosen, trials=trials)
        else:
            chosen = spec.sweep_from_args(path, matrix or [], trials or 1, {})
            problems = spec.check_cells(chosen, chosen.cells())
            if any(d.severity == "error" for d in problems):
                raise SpecError([d for d in problems if d.severity == "error"])
        record = records.new_record(sweeps_dir, chosen, chosen.cells())
    options = SweepOptions(jobs, cell_timeout, dask, retries, limits)
    todo = sum(r.status not in records.DONE for r in record.results)
    with sweep_view.SweepProgress(terminal.out, json_lines=json_lines, quiet=quiet) as progress:
        progress.begin(record, todo)
        code = run_sweep(record, options, progress)
    if not json_lines:
        sweep_view.render(terminal.out, records.read_record(record.dir), output_format.value)
    return code


@app.command()
@_handled
def runs(terminal: Terminal, runs_dir: RunsDirOption = Path(C.RUNS_DIR)) -> int:
    """List past runs."""
    from wfrun.ui import run_view  # noqa: PLC0415 - lazy: see the imports

    run_view.render_runs(terminal.out, runs_dir)
    return OK


@app.command()
@_handled
def show(
    terminal: Terminal,
    run_id: Annotated[str | None, typer.Argument(help="Run id or prefix (default: last).")] = None,
    runs_dir: RunsDirOption = Path(C.RUNS_DIR),
    sweeps_dir: SweepsDirOption = Path(SWEEPS_DIR),
) -> int:
    """Summarise one run (phases, resources, what went wrong) or a sweep's results."""
    from wfrun.engine.history import find_run  # noqa: PLC0415 - lazy: see the imports
    from wfrun.ui import run_view  # noqa: PLC0415 - lazy: see the imports

    if run_id:
        from wfrun.sweep.record import find_sweep, read_record  # noqa: PLC0415 - lazy
        from wfrun.ui import sweep_view  # noqa: PLC0415 - lazy: see the imports

        found = find_sweep(sweeps_dir, run_id)
        if found is not None:
            sweep_view.render(terminal.out, read_record(found), "text")
            return OK
    readable = run_view.render_run(terminal.out, find_run(runs_dir, run_id))
    return OK if readable else FAILED


@app.command()
@_handled
def report(
    terminal: Terminal,
    run_id: Annotated[str | None, typer.Argument(help="Run id or prefix (default: last).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    runs_dir: RunsDirOption = Path(C.RUNS_DIR),
) -> int:
    """Write one self-contained HTML report of a run: summary, graph, timeline, transcripts."""
    from wfrun.engine.history import find_run  # noqa: PLC0415 - lazy: see the imports
    from wfrun.report.build import render  # noqa: PLC0415 - lazy: see the imports

    html = render(find_run(runs_dir, run_id))
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        message = f"cannot write the report to {output}: {exc.strerror or exc}"
        raise UsageError(message, hint="give a writable path with -o") from exc
    terminal.out.print(f"report: {output} ({len(html.encode()) // 1024} KiB)")
    return OK


@app.command()
@_handled
def cleanup(
    terminal: Terminal,
    run_id: Annotated[
        str | None, typer.Argument(help="Run id or prefix (default: every run that needs it).")
    ] = None,
    runs_dir: RunsDirOption = Path(C.RUNS_DIR),
) -> int:
    """Stop what a killed run left behind (processes, temp dirs, containers)."""
    from wfrun.engine.history import find_run  # noqa: PLC0415 - lazy: see the imports
    from wfrun.engine.journal import cleanup_run, runs_needing_cleanup  # noqa: PLC0415 - lazy: see the imports
    from wfrun.registry import default_registry  # noqa: PLC0415 - lazy: see the imports
    from wfrun.ui import run_view  # noqa: PLC0415 - lazy: see the imports

    targets = [find_run(runs_dir, run_id)] if run_id else runs_needing_cleanup(runs_dir)
    results = [cleanup_run(target, default_registry()) for target in targets]
    run_view.render_cleanup(terminal.out, results)
    return FAILED if any(result.errors for result in results) else OK


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    try:
        app(args=argv, prog_name="wfrun", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return OK
