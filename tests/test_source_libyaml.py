"""libyaml parses, the pure-Python loader has the last word on what is wrong.

`parse_yaml` scans and parses with libyaml when PyYAML has it, and falls back to the
pure-Python loader for anything libyaml finds wrong. These tests hold the two paths to
one result on the examples and on the fuzzers' hostile texts: for every document
PyYAML reads, the same data and the same position for every value; for every document
libyaml itself refuses, PyYAML's diagnostics (the fallback). The one latitude: libyaml,
the reference C implementation, reads a few malformed documents PyYAML refuses (a `?`
inside a flow key, some tag spellings); then it must still give positioned data, or
wfrun's own positioned diagnostics.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from tests.conftest import cannot_run
from tests.fuzz.strategies import TEXTS, mutated_examples, structured_texts, yamlish_text
from wfrun.errors import SpecError
from wfrun.spec import source

if not yaml.__with_libyaml__:
    cannot_run("PyYAML was built without libyaml", module=True)


def _parse(text: str, *, libyaml: bool, one_pass: bool = True) -> tuple[str, Any]:
    saved = source.LIBYAML, source.ONE_PASS
    source.LIBYAML, source.ONE_PASS = libyaml, one_pass
    try:
        parsed = source.parse_yaml(text, "flow.yaml")
    except SpecError as exc:
        return "error", [(d.position, d.message, d.hint) for d in exc.diagnostics]
    finally:
        source.LIBYAML, source.ONE_PASS = saved
    return "ok", (parsed.data, parsed.positions)


def _same(text: str) -> None:
    fast, composed = _parse(text, libyaml=True), _parse(text, libyaml=True, one_pass=False)
    assert fast == composed, text  # the one-pass reader gives what composing gives
    pure = _parse(text, libyaml=False)
    if pure[0] == "ok":
        assert fast == pure, text
    elif fast[0] == "ok":  # libyaml read what PyYAML refused: positioned data all the same
        assert () in fast[1][1], text
    else:  # refused either way, each with positioned diagnostics
        assert fast[1], text


@pytest.mark.parametrize("index", range(len(TEXTS)))
def test_examples_parse_the_same_with_libyaml(index: int) -> None:
    assert _parse(TEXTS[index], libyaml=True)[0] == "ok"
    _same(TEXTS[index])


SAMPLES = [
    "a: 'it''s'\nb: \"\\u263a é\\x41\"\nc: |\n  two\n  lines\n",
    "a: &x [1, 2]\nb: *x\nc: {<<: {d: 1}}\n",
    "\ufeffa: 1\n",
    "a: 1\na: 2\n",  # duplicate keys
    "a: [1, 2\n",  # unclosed
    "a: \x1b\n",  # a control character: the reader refuses it
    "a:\n\t- 1\n",  # a tab
    "a: é\u2028b: 1\x85c: 2\n",  # line breaks PyYAML counts
    "- &a [*a]\n",  # an alias inside its own value
    "!!python/name:os.system x\n",
    "",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_edge_cases_parse_the_same_with_libyaml(text: str) -> None:
    _same(text)


_FUZZ = settings(
    max_examples=int(os.environ.get("WFRUN_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_FUZZ
@given(yamlish_text)
def test_yamlish_text_parses_the_same_with_libyaml(text: str) -> None:
    _same(text)


@_FUZZ
@given(mutated_examples())
def test_mutated_examples_parse_the_same_with_libyaml(text: str) -> None:
    _same(text)


@_FUZZ
@given(structured_texts())
def test_structured_documents_parse_the_same_with_libyaml(text: str) -> None:
    _same(text)


LIMITS = [
    "a: " + "[" * 70 + "]" * 70 + "\n",  # too deep
    "- " + "[1, 2]\n- " * 5 + "x\n",
    "a: 1\nb: {c: [d, 'e', \"f\", |\n    g\n  ]}\n",
    "a: 0x1F\nb: 2001-12-14\nc: 1e400\nd: ~\ne: on\nf: 190:20:30\ng: ''\nh:\n",
    "a: 1\n---\nb: 2\n",
    "<<: {a: 1}\n",
    "[1, 2]: x\n",
    "= : x\nb: =\n",
]


@pytest.mark.parametrize("text", LIMITS)
def test_limits_and_odd_values_parse_the_same_with_libyaml(text: str) -> None:
    _same(text)
