"""The YAML layer: safe loading, duplicate keys, positions, and limits on hostile input."""

from __future__ import annotations

import time
from pathlib import Path
from textwrap import dedent

import pytest

from wfrun.errors import Diagnostic, Position, SpecError
from wfrun.spec import inspect_workflow
from wfrun.spec.source import parse_yaml

AGENT_AND_PHASE = """\
    agents:
      g: {type: shell, with: {run: [echo]}}
    phases:
      a: {agents: [g]}
"""


def _errors(text: str) -> list[tuple[str, str, str]]:
    """parse_yaml's diagnostics as (position, message, hint)."""
    with pytest.raises(SpecError) as info:
        parse_yaml(dedent(text), "f.yaml")
    return [(str(d.position), d.message, d.hint) for d in info.value.diagnostics]


# -- positions -------------------------------------------------------------------------


def test_every_key_and_value_knows_its_line_and_column() -> None:
    source = parse_yaml(
        dedent("""\
            version: 1
            phases:
              build:
                agents: [a, b]
                if: "phases.x.success"
        """),
        "f.yaml",
    )
    assert source.data == {
        "version": 1,
        "phases": {"build": {"agents": ["a", "b"], "if": "phases.x.success"}},
    }
    assert source.at(("version",)) == Position("f.yaml", 1, 10)
    assert source.at(("version",), key=True) == Position("f.yaml", 1, 1)
    assert source.at(("phases", "build"), key=True) == Position("f.yaml", 3, 3)
    assert source.at(("phases", "build", "agents", 1)) == Position("f.yaml", 4, 17)
    # a path below a known node falls back to the deepest known node
    assert source.at(("phases", "build", "agents", 7)) == Position("f.yaml", 4, 13)
    # inside a quoted string: the offset skips the opening quote
    assert source.within(("phases", "build", "if"), 7) == Position("f.yaml", 5, 17)


def test_within_a_block_scalar_points_at_its_start() -> None:
    source = parse_yaml("if: |\n  phases.a.success\n", "f.yaml")
    assert source.within(("if",), 5) == Position("f.yaml", 1, 5)


def test_keys_stay_the_text_written() -> None:
    """YAML 1.1 reads `on:`/`yes:` keys as booleans; wfrun keys are names, never bools."""
    source = parse_yaml("on: 1\nyes: 2\n3: 4\n", "f.yaml")
    assert source.data == {"on": 1, "yes": 2, "3": 4}


def test_merge_keys_are_resolved_and_may_be_overridden() -> None:
    source = parse_yaml(
        dedent("""\
            base: &base {type: process, needs: [code]}
            copy:
              <<: *base
              type: container
        """),
        "f.yaml",
    )
    assert source.data["copy"] == {"type": "container", "needs": ["code"]}


# -- errors of the YAML layer, through the CLI -------------------------------------------


def test_yaml_syntax_error(wfrun_project) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
                version: 1
                phases:
                  a:
                    agents: [g]
                   max_iterations: 3
            """
        }
    )
    outcome = project.run("validate", "flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:4: error: YAML syntax: expected <block end>, but found '<block mapping start>' (while parsing a block mapping)
        1 error in 1 file (invalid)
    """)


def test_yaml_syntax_error_in_a_flow_mapping(wfrun_project) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
                version: 1
                phases:
                  a: {agents: [g], if: "x"y}
            """
        }
    )
    outcome = project.run("validate", "flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:27: error: YAML syntax: expected ',' or '}', but got '<scalar>' (while parsing a flow mapping)
        1 error in 1 file (invalid)
    """)


def test_duplicate_key(wfrun_project) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
                version: 1
                agents:
                  g: {type: shell, with: {run: [echo]}}
                phases:
                  a: {agents: [g]}
                agents:
                  h: {type: shell, with: {run: [echo]}}
            """
        }
    )
    outcome = project.run("validate", "flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:1: error: duplicate key 'agents'
            hint: it is first defined on line 2; YAML would silently keep only the last
        1 error in 1 file (invalid)
    """)


def test_duplicate_key_next_to_a_merge_key(wfrun_project) -> None:
    """Overriding a merged-in key is fine; writing the same key twice is not."""
    project = wfrun_project(
        {
            "flow.yaml": """
                version: 1
                agents:
                  base: &base {type: shell, with: {run: [echo]}}
                  g:
                    <<: *base
                    type: check
                    type: shell
                phases:
                  a: {agents: [g, base]}
            """
        }
    )
    outcome = project.run("validate", "flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:7:5: error: duplicate key 'type'
            hint: it is first defined on line 6; YAML would silently keep only the last
        1 error in 1 file (invalid)
    """)


def test_python_tag_is_refused(wfrun_project) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
                version: 1
                agents:
                  g: {type: shell, with: {run: [echo]}}
                phases:
                  a: {agents: [g], timeout: !!python/name:os.system }
                  b: {agents: [g], timeout: !custom 3}
            """
        }
    )
    outcome = project.run("validate", "flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:29: error: tag '!!python/name:os.system' is not allowed
            hint: wfrun reads plain YAML only
        flow.yaml:6:29: error: tag '!custom' is not allowed
            hint: wfrun reads plain YAML only
        2 errors in 1 file (invalid)
    """)


@pytest.mark.parametrize(
    "tagged",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        '!!python/object/new:os.system ["touch {marker}"]',
        '!!python/object/apply:subprocess.check_call [["touch", "{marker}"]]',
        "[!!python/object/apply:os.system ['touch {marker}']]",
        '{k: !!python/object/apply:os.system ["touch {marker}"]}',
    ],
)
def test_python_objects_are_never_constructed(tmp_path: Path, tagged: str) -> None:
    marker = tmp_path / "marker"
    flow = tmp_path / "flow.yaml"
    description = tagged.replace("{marker}", str(marker))
    flow.write_text(
        f"version: 1\ndescription: {description}\n" + dedent(AGENT_AND_PHASE), encoding="utf-8"
    )
    result = inspect_workflow(flow, environ={})
    assert not marker.exists()
    assert result.workflow is None
    assert [d.message.startswith("tag '!!python/") for d in result.errors] == [True]


# -- what PyYAML lets through, and what it trips over -----------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [("f.yaml:1:1", "the file is empty", "")]),
        ("# only a comment\n", [("f.yaml:1:1", "the file is empty", "")]),
        (
            "a: 1\n---\nb: 2\n",
            [
                (
                    "f.yaml:2:1",
                    "YAML syntax: but found another document (expected a single document in the stream)",
                    "",
                )
            ],
        ),
        (
            "a:\n\t- b\n",
            [
                (
                    "f.yaml:2:1",
                    "YAML syntax: found character '\\t' that cannot start any token (while scanning for the next token)",
                    "",
                )
            ],
        ),
        (
            "? [a]\n: 1\n",
            [("f.yaml:1:3", "a key must be a plain string, not a list or mapping", "")],
        ),
        (
            "x: {<<: 1}\n",
            [
                (
                    "f.yaml:1:4",
                    "YAML merge: expected a mapping or list of mappings for merging, but found scalar",
                    "",
                )
            ],
        ),
        ("a: *nowhere\n", [("f.yaml:1:4", "YAML syntax: found undefined alias 'nowhere'", "")]),
    ],
    ids=["empty", "comment", "two-documents", "tab", "complex-key", "bad-merge", "alias"],
)
def test_yaml_problems(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert _errors(text) == expected


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\ufffe"])
def test_a_control_character_is_a_located_error_not_a_crash(tmp_path: Path, char: str) -> None:
    """PyYAML's Reader raises ReaderError (not a MarkedYAMLError) from the loader's
    constructor; it must still come out as a located SpecError diagnostic."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(f"version: 1\ndescription: a{char}b\n" + dedent(AGENT_AND_PHASE), "utf-8")
    result = inspect_workflow(flow, environ={})
    assert result.workflow is None
    assert result.diagnostics == [
        Diagnostic(
            Position(str(flow), 2, 15),
            f"character {char!r} is not allowed in YAML",
            'remove it, or write it as an escape inside double quotes, e.g. "\\x1b"',
        )
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\x85", "\u2028"])
def test_a_control_character_is_placed_on_the_line_yaml_counts(newline: str) -> None:
    """Regression: lines were counted by '\\n' only, while PyYAML's marks (used by every
    other message) also end a line at NEL, LS, PS and a lone CR."""
    assert _errors(f"a: 1{newline}b: x\x1fy\n") == [
        (
            "f.yaml:2:5",
            "character '\\x1f' is not allowed in YAML",
            'remove it, or write it as an escape inside double quotes, e.g. "\\x1b"',
        )
    ]


def test_a_control_character_exits_2_not_3(wfrun_project) -> None:
    project = wfrun_project({"flow.yaml": b"version: 1\ndescription: a\x00b\nphases: {}\n"})
    outcome = project.run("validate", "flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:15: error: character '\\x00' is not allowed in YAML
            hint: remove it, or write it as an escape inside double quotes, e.g. "\\x1b"
        1 error in 1 file (invalid)
    """)


def test_a_file_that_is_not_utf8(wfrun_project) -> None:
    project = wfrun_project(
        {"flow.yaml": b"\xff\xfeversion: 1\n", "latin1.yaml": b"version: 1\ndescription: caf\xe9\n"}
    )
    outcome = project.run("validate", "flow.yaml", "latin1.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:1:1: error: the file is not UTF-8: byte 0xff starts no valid character
            hint: save it as UTF-8 (is it Latin-1, or UTF-16?)
        latin1.yaml:2:17: error: the file is not UTF-8: byte 0xe9 starts no valid character
            hint: save it as UTF-8 (is it Latin-1, or UTF-16?)
        2 errors in 2 files (invalid)
    """)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!!int \n", ("f.yaml:1:1", "cannot read '' as int")),
        ("a: !!float ''\n", ("f.yaml:1:4", "cannot read '' as float")),
        ("a: !!bool maybe\n", ("f.yaml:1:4", "cannot read 'maybe' as bool")),
        ("a: !!timestamp x\n", ("f.yaml:1:4", "cannot read 'x' as timestamp")),
        (
            "a: 2001-13-45\n",
            ("f.yaml:1:4", "cannot read '2001-13-45' as timestamp: month must be in 1..12"),
        ),
    ],
    ids=["empty-int", "empty-float", "bool", "timestamp", "month"],
)
def test_a_value_that_is_not_its_type_is_located(text: str, expected: tuple[str, str]) -> None:
    """Regression: an explicit tag skips PyYAML's patterns, and its constructors then
    raised IndexError, KeyError or AttributeError: a traceback instead of a message."""
    kind = expected[1].split(" as ")[1].split(":")[0]
    hint = f"write a valid {kind}, or quote the value to make it text"
    assert _errors(text) == [(*expected, hint)]


def test_an_alias_inside_the_value_it_names_is_refused() -> None:
    """Regression: `&a [*a]` made a cyclic node graph and the loader looped forever."""
    hint = "YAML allows such recursive values; a workflow cannot use them"
    message = "alias *a is inside the value it names"
    assert _errors("a: &a [*a]\n") == [("f.yaml:1:8", message, hint)]
    assert _errors("a: &a {b: {c: *a}}\n") == [("f.yaml:1:15", message, hint)]
    assert _errors("a: &a {<<: *a}\n") == [("f.yaml:1:12", message, hint)]
    assert parse_yaml("- &a [1]\n- [*a, *a]\n", "f.yaml").data == [[1], [[1], [1]]]


def test_a_base_60_number_of_many_parts_is_refused_quickly() -> None:
    """Regression: YAML 1.1 reads `1:1:1...` as a base-60 int; 200,000 parts took 18 s."""
    start = time.perf_counter()
    errors = _errors("a: 1" + ":1" * 200_000 + "\n")
    assert time.perf_counter() - start < 2
    assert errors == [
        (
            "f.yaml:1:4",
            "'1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:'… (400,001 characters) is too long to be a number",
            "quote it to make it text",
        )
    ]
    assert parse_yaml("a: 190:20:30\n", "f.yaml").data == {"a": 685230}


def test_a_duplicate_anchor_says_where_the_first_one_is() -> None:
    assert _errors("- &a 1\n- &a 2\n") == [
        (
            "f.yaml:2:3",
            "YAML syntax: duplicate anchor 'a'",
            "it is first defined on line 1; rename one of them",
        )
    ]


def test_huge_names_are_cut_short_in_messages() -> None:
    """Regression: a tag, key or alias of 100,000 characters was quoted whole."""
    long = "t" * 100_000
    assert _errors(f"a: !{long} x\n") == [
        (
            "f.yaml:1:4",
            f"tag {'!' + long[:39]!r}… (100,001 characters) is not allowed",
            "wfrun reads plain YAML only",
        )
    ]
    assert (
        _errors(f"? {long}\n: 1\n? {long}\n: 2\n")
        == [  # explicit keys may be that long
            (
                "f.yaml:3:3",
                f"duplicate key {long[:40]!r}… (100,000 characters)",
                "it is first defined on line 1; YAML would silently keep only the last",
            )
        ]
    )
    [(where, message, _)] = _errors(f"a: *{long}\n")
    assert where == "f.yaml:1:4"
    assert message.startswith("YAML syntax: found undefined alias 'ttt")
    assert len(message) == 200


# -- limits against hostile input --------------------------------------------------------


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    start = time.perf_counter()
    errors = _errors("\n".join(lines) + "\n")
    elapsed = time.perf_counter() - start
    assert errors == [
        (
            "f.yaml:7:1",
            "'g' expands to more than 1,000,000 values",
            "are aliases (*name) repeated inside each other?",
        )
    ]
    assert elapsed < 2, f"took {elapsed:.2f}s"


def test_a_long_string_used_through_many_aliases_is_refused_quickly() -> None:
    """Regression: 20,000 aliases of a 400 KB string (a 500 KB file) took 27 s and 8 GB,
    each use slicing its own copy of the source text."""
    text = f"a: &a '{'x' * 300_000}'\nb: [{', '.join(['*a'] * 20)}]\n"
    start = time.perf_counter()
    errors = _errors(text)
    assert time.perf_counter() - start < 2
    assert errors == [
        (
            "f.yaml:2:1",
            "'b' expands to more than 4,194,304 characters",
            "is a long string used through many aliases (*name)?",
        )
    ]


def test_nesting_past_the_depth_limit_is_located() -> None:
    hint = "a workflow needs only a few levels; look for an unclosed bracket"
    assert _errors("[" * 100 + "]" * 100) == [
        ("f.yaml:1:66", "the document is nested more than 64 levels deep", hint)
    ]


def test_nesting_by_aliases_is_refused_at_the_first_entry_too_deep() -> None:
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [[[[[[[[*a{i - 1}]]]]]]]]" for i in range(1, 10)]
    assert _errors("\n".join(lines) + "\n") == [
        (
            "f.yaml:9:1",
            "'a8' is nested more than 64 levels deep once aliases are expanded",
            "an alias (*name) puts its whole value where it is used",
        )
    ]


def test_a_file_over_eight_mebibytes_is_refused(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text("version: 1\n# " + "x" * (8 * 1024 * 1024) + "\n", encoding="utf-8")
    result = inspect_workflow(flow, environ={})
    assert result.diagnostics == [
        Diagnostic(
            Position(str(flow), 1, 1),
            "file is 8,388,622 bytes, over the 8,388,608-byte limit",
            "split the workflow up",
        )
    ]
