"""Fuzz the loader and validator through the Python API, thousands of cases.

Whatever the file holds, `inspect_workflow` returns diagnostics placed inside the file
(never raises) and `load_workflow` returns a Workflow or raises SpecError, each case
within `CASE_SECONDS`. The oracle is `harness.check_file`. The `slow` twins run twenty
times as many, with fresh randomness each run (hypothesis prints a reproduction blob).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as fz
from tests.fuzz.harness import check_file, fuzz_settings

SLOW = 20  # the slow run's multiple of the default run


def _fuzz(
    strategy: st.SearchStrategy[Any], kind: str, examples: int, *, slow: bool = False, **kw: Any
) -> Callable[..., None]:
    """A test that feeds `strategy` to check_file `examples` times."""

    @fuzz_settings(examples * (SLOW if slow else 1), slow=slow)
    @given(content=strategy)
    def test(scratch: Path, content: str | bytes) -> None:
        check_file(scratch, content, kind=kind, **kw)

    return pytest.mark.slow(test) if slow else test


# Cases in the default run, chosen to keep tests/fuzz near 30 s on two cores.
COUNTS = {"bytes": 450, "yamlish": 450, "mutated": 300, "structured": 100, "seeded": 250}

test_random_bytes = _fuzz(fz.random_bytes, "bytes", COUNTS["bytes"])
test_yamlish_text = _fuzz(fz.yamlish_text, "yamlish", COUNTS["yamlish"])
test_mutated_examples = _fuzz(fz.mutated_examples(), "mutated", COUNTS["mutated"])
test_mutated_examples_raise_only_spec_errors = _fuzz(
    fz.mutated_examples(), "mutated", 100, raising=True
)
test_structured_documents = _fuzz(fz.structured_texts(), "structured", COUNTS["structured"])
test_seeded_documents = _fuzz(fz.seeded_documents, "seeded", COUNTS["seeded"])

test_random_bytes_slow = _fuzz(fz.random_bytes, "bytes", COUNTS["bytes"], slow=True)
test_yamlish_text_slow = _fuzz(fz.yamlish_text, "yamlish", COUNTS["yamlish"], slow=True)
test_mutated_examples_slow = _fuzz(
    fz.mutated_examples(), "mutated", COUNTS["mutated"], slow=True, raising=True
)
test_structured_documents_slow = _fuzz(
    fz.structured_texts(), "structured", COUNTS["structured"], slow=True
)
test_seeded_documents_slow = _fuzz(fz.seeded_documents, "seeded", COUNTS["seeded"], slow=True)
