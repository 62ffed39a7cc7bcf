"""Fuzz the real command line: `wfrun validate` in a subprocess, on batches of files.

A smaller sample than the API fuzz (a process costs ~0.5 s to start), so each run
validates a batch of generated files at once. The oracle is strict: exit 0 or 2, no
traceback, and the report is exactly what the Python API's diagnostics render to, so
the command line adds nothing and loses nothing on the way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as fz
from tests.fuzz.harness import REGISTRY, check_file, cli_environ, fuzz_settings, validate_cli
from wfrun.spec import inspect_workflow
from wfrun.ui.diagnostics import render

BATCH = 30
contents = st.one_of(fz.mutated_examples(), fz.seeded_documents, fz.yamlish_text, fz.random_bytes)
batches = st.lists(contents, min_size=BATCH, max_size=BATCH)


def _validate_batch(folder: Path, batch: list[str | bytes], output: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, content in enumerate(batch):
        path = folder / f"f{i:02d}.yaml"
        check_file(path, content, kind=None)  # writes the file; counted as "cli"
        paths.append(path)
    result = validate_cli(paths, output=output)
    found = [
        d
        for path in paths
        for d in inspect_workflow(path, environ=cli_environ(), registry=REGISTRY).diagnostics
    ]
    expected_code = 2 if any(d.severity == "error" for d in found) else 0
    assert result.code == expected_code, result
    if output == "json":
        assert json.loads(result.out) == [d.as_dict() for d in found]
    else:
        assert result.out == render(found, len(paths), "text")


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-fuzz")


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # a batch is 30 files
@fuzz_settings(3)
@given(batch=batches, output=st.sampled_from(["text", "json"]))
def test_validate_batches(batch_folder: Path, batch: list[str | bytes], output: str) -> None:
    _validate_batch(batch_folder, batch, output)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # a batch is 30 files
@fuzz_settings(60, slow=True)
@given(batch=batches, output=st.sampled_from(["text", "json"]))
def test_validate_batches_slow(batch_folder: Path, batch: list[str | bytes], output: str) -> None:
    _validate_batch(batch_folder, batch, output)
