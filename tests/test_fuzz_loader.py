"""Fuzz the loader: whatever the file holds, it returns a Workflow or raises SpecError.

Two sources of input: the example workflows with their text mutated (lines deleted,
duplicated, swapped, re-indented, characters inserted), and trees of wfrun-ish keys and
values dumped with yaml.safe_dump. Anything other than a Workflow, a SpecError (or a
UsageError for a bad -p) is a bug: the CLI would turn it into exit 3.
"""

from __future__ import annotations

import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from wfrun.errors import Diagnostic, SpecError, UsageError
from wfrun.registry import default_registry
from wfrun.spec import Workflow, inspect_workflow, load_workflow

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted([*REPO.glob("workflows/*.yaml"), *REPO.glob("workflows/*/workflow.yaml")])
TEXTS = [path.read_text(encoding="utf-8") for path in EXAMPLES]
REGISTRY = default_registry()  # built once: scanning entry points costs ~5 ms a load
ENVIRON = {"HOME": "/home/fuzz"}

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # a CI run is reproducible; explore locally with --hypothesis-seed
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],  # no slow
)

# `plugins` is left out on purpose: it imports modules by name.
KEYS = [
    "version", "name", "description", "params", "resources", "agents", "execution",
    "phases", "templates", "type", "with", "needs", "requires", "optional", "max_iterations",
    "if", "expect", "timeout", "may_spawn", "run", "shell", "command", "ready", "tcp", "copy",
    "call", "a", "b", "g", "code", "app", "bad name", "1x", "",
]  # fmt: skip
SNIPPETS = [
    "${params.port}", "${params.nope}", "${env.HOME}", "${env.WFRUN_FUZZ_UNSET}",
    "${resources.code.path}", "${resources.x.y.z}", "${phases.a.output}", "${phases}",
    "$${x}", "${", "}", "phases.a.success and not params.n", "params.n in [1, 2]", "((",
    "workspace", "process", "memory", "shell", "check", "python", "graph", "sequential",
    "success", "failure", "&a", "*a", "!!python/name:os.system", "<<", ": ", "- ", "{", "[",
    "#", "'", '"', "\t", "\\", "m:f",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(SNIPPETS),
    st.sampled_from(KEYS),
    st.text(max_size=12),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5),
    ),
    max_leaves=40,
)
# Mostly documents that get past the first checks, so the deeper stages are reached.
documents = st.one_of(
    trees,
    st.fixed_dictionaries(
        {"version": st.just(1) | scalars, "phases": trees},
        optional={
            "params": trees,
            "resources": trees,
            "agents": trees,
            "execution": st.sampled_from(["graph", "sequential"]) | scalars,
            "templates": trees,
        },
    ),
)

insertions = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6
) | st.sampled_from(SNIPPETS)


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        if not lines:
            lines = [""]
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        match draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "insert"])):
            case "delete":
                del lines[i]
            case "duplicate":
                lines.insert(j, lines[i])
            case "swap":
                lines[i], lines[j] = lines[j], lines[i]
            case "indent":
                lines[i] = " " * draw(st.integers(min_value=0, max_value=8)) + lines[i].lstrip()
            case _:
                col = draw(st.integers(min_value=0, max_value=len(lines[i])))
                lines[i] = lines[i][:col] + draw(insertions) + lines[i][col:]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One file reused by every example (hypothesis runs many inputs per test call)."""
    with tempfile.TemporaryDirectory(prefix="wfrun-fuzz-") as folder:
        yield Path(folder) / "flow.yaml"


def _load(path: Path, text: str, params: dict[str, str] | None = None) -> None:
    """load_workflow returns a Workflow or raises SpecError (UsageError only for -p)."""
    path.write_text(text, encoding="utf-8")
    try:
        workflow = load_workflow(path, params=params, environ=ENVIRON, registry=REGISTRY)
    except UsageError:
        assert params, "a UsageError without -p overrides"
        return
    except SpecError as exc:
        problems = exc.diagnostics
    else:
        assert isinstance(workflow, Workflow)
        return
    assert problems, "a SpecError with nothing in it"
    _well_placed(problems, path, text)


def _inspect(path: Path, text: str) -> None:
    """inspect_workflow never raises; its workflow is None exactly when there are errors."""
    path.write_text(text, encoding="utf-8")
    result = inspect_workflow(path, environ=ENVIRON, registry=REGISTRY)
    assert (result.workflow is None) == bool(result.errors)
    _well_placed(result.diagnostics, path, text)


def _well_placed(diagnostics: list[Diagnostic], path: Path, text: str) -> None:
    # PyYAML counts NEL, LS, PS and a lone CR as line breaks too, and so do its marks.
    breaks = (
        sum(text.count(c) for c in "\n\x85\u2028\u2029") + text.count("\r") - text.count("\r\n")
    )
    lines = breaks + 1
    for d in diagnostics:
        assert d.position.file == str(path), d
        assert 1 <= d.position.line <= lines, d
        assert d.position.col >= 1, d
        assert d.message, d
    assert diagnostics == sorted(diagnostics, key=Diagnostic.sort_key)


@FUZZ
@given(text=mutated_examples())
def test_mutated_examples(scratch: Path, text: str) -> None:
    _load(scratch, text)


@FUZZ
@given(document=documents)
def test_generated_documents(scratch: Path, document: Any) -> None:
    _inspect(scratch, yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


@settings(FUZZ, max_examples=100)  # a small input space: three files, five names
@given(
    text=st.sampled_from(TEXTS),
    params=st.dictionaries(
        st.sampled_from(["port", "tries", "rows", "greeting", "nope"]),
        st.text(alphabet=string.printable, max_size=8),
        max_size=3,
    ),
)
def test_param_overrides(scratch: Path, text: str, params: dict[str, str]) -> None:
    _load(scratch, text, params)
