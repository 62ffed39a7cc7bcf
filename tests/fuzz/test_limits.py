"""Resource limits: hostile files are refused quickly, with a message placed in the file.

Each test builds one file that costs PyYAML or a naive validator seconds, gigabytes or a
stack overflow, and checks the whole answer (position, message, hint) and the time: CPU
time under QUICK, and wall time under three times that (the machine is shared, so wall
time alone would be flaky). Legitimately large files are accepted, also within a bound.
These inputs take 0.05-0.8 s on an idle machine.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fuzz.harness import CASES, bounded, check_diagnostics, validate_cli
from wfrun import constants as C
from wfrun.spec import inspect_workflow

QUICK = 2.0  # seconds
READ_ALL = 15.0  # seconds: libyaml reads 10^6 values (the limit) in a few; PyYAML 2 * 10^5

HEAD = """\
version: 1
agents:
  g: {type: shell, with: {run: [echo]}}
phases:
  a: {agents: [g]}
"""
Problems = list[tuple[str, str, str]]


def load(text: str | bytes, *, seconds: float = QUICK) -> Problems:
    """Load `text` as flow.yaml; assert the contract and the time; return the problems."""
    path = Path("flow.yaml")  # each test runs in its own temp dir (tests/conftest.py)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    start, cpu = time.perf_counter(), time.process_time()
    with bounded(seconds * 3):  # wall time, for a machine whose other core is busy too
        result = inspect_workflow(path, environ={"HOME": "/home/fuzz"})
    cpu = time.process_time() - cpu
    CASES["limits"] += 1
    assert cpu < seconds, f"took {cpu:.2f} s of CPU ({time.perf_counter() - start:.2f} s)"
    assert (result.workflow is None) == bool(result.errors)
    check_diagnostics(result.diagnostics, path, None)
    return [(str(d.position), d.message, d.hint) for d in result.diagnostics]


def phase_if(condition: str) -> str:
    return HEAD.replace("a: {agents: [g]}", f"a: {{agents: [g], if: '{condition}'}}")


# -- alias bombs ---------------------------------------------------------------------------

LAUGHS = "are aliases (*name) repeated inside each other?"


def test_billion_laughs() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    assert load("\n".join(lines)) == [
        ("flow.yaml:7:1", "'g' expands to more than 1,000,000 values", LAUGHS)
    ]


def test_billion_laughs_in_mappings() -> None:
    lines = ["a0: &a0 {x: lol, y: lol, z: lol}"]
    for i in range(1, 20):
        entries = ", ".join(f"k{j}: *a{i - 1}" for j in range(4))
        lines.append(f"a{i}: &a{i} {{{entries}}}")
    assert load("\n".join(lines)) == [
        ("flow.yaml:10:1", "'a9' expands to more than 1,000,000 values", LAUGHS)
    ]


def test_a_wide_alias_bomb() -> None:
    """No nesting: one list of 1,000 values, used 1,000 times."""
    text = f"a: &a [{', '.join(['x'] * 1000)}]\nb: [{', '.join(['*a'] * 1000)}]\n"
    assert load(text) == [("flow.yaml:2:1", "'b' expands to more than 1,000,000 values", LAUGHS)]


def test_a_merge_key_bomb() -> None:
    """`<<:` copies the merged mappings' entries into each mapping that merges them."""
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4}"]
    lines += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 8)}]}}" for i in range(1, 12)]
    assert load("\n".join(lines)) == [
        ("flow.yaml:7:1", "'m6' expands to more than 1,000,000 values", LAUGHS)
    ]


def test_a_long_string_through_many_aliases() -> None:
    text = HEAD + f"params:\n  a: &a '{'x' * 200_000}'\n  b: [{', '.join(['*a'] * 30)}]\n"
    assert load(text) == [
        (
            "flow.yaml:6:1",
            "'params' expands to more than 4,194,304 characters",
            "is a long string used through many aliases (*name)?",
        )
    ]


def test_an_alias_inside_its_own_value() -> None:
    assert load(HEAD + "params:\n  a: &a {b: [1, *a]}\n") == [
        (
            "flow.yaml:7:17",
            "alias *a is inside the value it names",
            "YAML allows such recursive values; a workflow cannot use them",
        )
    ]


def test_aliases_within_the_limits_are_fine() -> None:
    text = HEAD + f"params:\n  a: &a [{', '.join(['x'] * 50)}]\n  b: [{', '.join(['*a'] * 900)}]\n"
    assert load(text) == []


# -- deep nesting --------------------------------------------------------------------------

NESTED = "the document is nested more than 64 levels deep"
NESTED_HINT = "a workflow needs only a few levels; look for an unclosed bracket"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[" * 10_000 + "]" * 10_000, "1:66"),
        ("[" * 10_000, "1:66"),
        ("{a: " * 10_000 + "}" * 10_000, "1:258"),
        ("- " * 10_000 + "x\n", "1:131"),
        ("".join(" " * i + "a:\n" for i in range(1000)) + " " * 1000 + "x\n", "65:65"),
        ("[{a: " * 5_000 + "]}" * 5_000, "1:162"),
        (HEAD + "params: {p: " + "[" * 10_000 + "}", "6:76"),
    ],
    ids=["flow-lists", "unclosed", "flow-maps", "block-lists", "block-maps", "mixed", "param"],
)
def test_deep_nesting(text: str, where: str) -> None:
    """PyYAML's composer recurses per level: 10,000 levels were a RecursionError found
    after 2 s of scanning. Now the 65th level is refused where it opens."""
    assert load(text) == [(f"flow.yaml:{where}", NESTED, NESTED_HINT)]


def test_nesting_at_the_limit_is_fine() -> None:
    depth = C.MAX_DEPTH - 2  # under `params:` and `p:`
    text = HEAD + "params: {p: " + "[" * depth + "]" * depth + "}\n"
    assert load(text) == []


# -- size ----------------------------------------------------------------------------------

OVER = f"over the {C.MAX_FILE_BYTES:,}-byte limit"


def test_a_50_megabyte_string_is_refused_before_it_is_read() -> None:
    text = HEAD + "description: " + "x" * 50_000_000 + "\n"
    size = len(text)
    assert load(text) == [
        ("flow.yaml:1:1", f"file is {size:,} bytes, {OVER}", "split the workflow up")
    ]


def test_a_file_one_byte_over_the_limit() -> None:
    text = HEAD + "description: "
    text += "x" * (C.MAX_FILE_BYTES - len(text)) + "\n"
    assert load(text) == [
        (
            "flow.yaml:1:1",
            f"file is {C.MAX_FILE_BYTES + 1:,} bytes, {OVER}",
            "split the workflow up",
        )
    ]


def test_the_limit_counts_bytes_not_characters() -> None:
    text = HEAD + "description: " + "☃" * (C.MAX_FILE_BYTES // 3) + "\n"
    [(where, message, _)] = load(text)
    assert where == "flow.yaml:1:1"
    assert message.endswith(OVER)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_file_without_a_size_is_read_only_up_to_the_limit(device: str) -> None:
    """Regression: the size check used stat(), which says 0 for a device or a pipe
    (`wfrun validate <(generate)`); /dev/zero was then read until memory ran out."""
    start = time.process_time()
    result = inspect_workflow(device, environ={})
    assert time.process_time() - start < QUICK
    assert [(str(d.position), d.message) for d in result.diagnostics] == [
        (f"{device}:1:1", f"file is {OVER}")
    ]


@pytest.mark.parametrize("quote", ["", "'", '"'])
def test_a_line_of_half_a_megabyte_is_read(quote: str) -> None:
    text = HEAD + f"description: {quote}{'x' * 500_000}{quote}\n"
    assert load(text, seconds=2 * QUICK) == []


def test_a_key_longer_than_yaml_allows() -> None:
    """YAML caps a plain key at 1,024 characters; the message must not quote it."""
    [(where, message, hint)] = load(HEAD + "params: {" + "k" * 5000 + ": 1}\n")
    assert (where, hint) == ("flow.yaml:6:5010", "")
    assert message.startswith("YAML syntax: ")


def test_a_name_too_long_to_be_a_file_name() -> None:
    """Regression: a phase named with 300 letters validated, then the run crashed writing
    outputs/<phase>.txt (ENAMETOOLONG: an internal error, exit 3)."""
    name = "p" * 300
    hint = "names are at most 64 characters: they become file names"
    message = f"{name[:40]!r}… (300 characters) is too long for a name"
    text = HEAD + f"  {name}: {{agents: [g]}}\n  {'q' * 64}: {{agents: [g]}}\n"
    assert load(text) == [("flow.yaml:6:3", f"phases.{name[:40]}…: {message}", hint)]


def test_a_huge_value_in_a_types_settings_is_quoted_short() -> None:
    """Regression: a type's config model quoted a 100,000-character `call:` whole."""
    text = HEAD.replace(
        "{run: [echo]}", "{run: [echo]}}\n  p: {type: python, with: {call: " + "x" * 100_000 + "}"
    )
    text = text.replace("agents: [g]", "agents: [g, p]")
    [(where, message, _)] = load(text)
    assert where == "flow.yaml:4:34"
    assert message.startswith("agents.p.with.call: expected module:function")
    assert len(message) == 300


def test_five_thousand_params_are_fine() -> None:
    text = HEAD + "params:\n" + "".join(f"  p{i}: {i}\n" for i in range(5_000))
    assert load(text) == []


def test_more_values_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused when the value over the limit is composed, not after the whole file was
    read; here with the limit at 1,000 (the slow twin uses the real one)."""
    monkeypatch.setattr(C, "MAX_NODES", 1_000)
    text = "params: [" + "1," * 300_000 + "1]\n"
    assert load(text) == [
        ("flow.yaml:1:2004", "the document has more than 1,000 values", "split the workflow up")
    ]


@pytest.mark.slow
def test_more_values_than_the_real_limit() -> None:
    text = "params: [" + "1," * 1_100_000 + "1]\n"
    assert len(text) < C.MAX_FILE_BYTES
    assert load(text, seconds=READ_ALL) == [
        (
            "flow.yaml:1:2000004",
            "the document has more than 1,000,000 values",
            "split the workflow up",
        )
    ]


@pytest.mark.slow
def test_more_values_than_the_pure_python_limit() -> None:
    """A file only PyYAML's slower parser reads (it has a tab) has a lower limit."""
    text = "params: [" + "1," * 300_000 + "1]\t\n"
    assert load(text, seconds=READ_ALL) == [
        ("flow.yaml:1:400004", "the document has more than 200,000 values", "split the workflow up")
    ]


# -- expressions and placeholders ----------------------------------------------------------


def test_an_if_of_100_000_characters() -> None:
    assert load(phase_if("phases.x.success and " * 5000 + "true")) == [
        ("flow.yaml:5:25", "if: expression is longer than 2000 characters", "")
    ]


def test_an_if_nested_too_deeply() -> None:
    assert load(phase_if("(" * 500 + "true" + ")" * 500)) == [
        ("flow.yaml:5:58", "if: expression nested more than 32 levels deep", "")
    ]


def test_a_thousand_nots() -> None:
    [(where, message, _)] = load(phase_if("not " * 1000 + "true"))
    assert (where, message) == ("flow.yaml:5:25", "if: expression is longer than 2000 characters")


def test_a_long_and_chain_within_the_limit_is_fine() -> None:
    text = phase_if(" and ".join(["params.n > 1"] * 100)) + "params: {n: 3}\n"
    assert load(text) == []


def test_a_huge_placeholder() -> None:
    [(where, message, hint)] = load(HEAD + "description: '${" + "a." * 100_000 + "b}'\n")
    assert where == "flow.yaml:6:15"
    assert message.startswith("unknown namespace 'a' in '${a.a.a.")
    assert hint == "placeholders start with params., env., resources. or phases."


def test_twenty_thousand_placeholders() -> None:
    text = HEAD + "params: {x: 1}\ndescription: '" + "${params.x}" * 20_000 + "'\n"
    assert load(text, seconds=2 * QUICK) == []


def test_a_long_param_used_in_many_places() -> None:
    """Regression: like an alias, a placeholder copies its value; a 100 KB list used
    2,000 times in a 120 KB file took 17 s and 1.2 GB (more uses: out of memory)."""
    big = "[" + ", ".join(["xxxxxxxxxx"] * 8000) + "]"
    text = HEAD + f"params:\n  big: {big}\ndescription: '" + "${params.big}" * 2000 + "'\n"
    assert load(text) == [
        (
            "flow.yaml:8:496",  # the 38th use: 38 x 112,000 characters
            "placeholders expand to more than 4,194,304 characters",
            "is a long param used in many places?",
        )
    ]


def test_twenty_thousand_unknown_placeholders_stop_after_the_first_problems() -> None:
    text = HEAD + "description: '" + "${params.y}" * 20_000 + "'\n"
    problems = load(text)
    assert len(problems) == C.MAX_DIAGNOSTICS + 1
    assert problems[1] == (
        "flow.yaml:6:15",
        "unknown param 'params.y'",
        "no params are declared here",
    )
    assert problems[0] == (
        "flow.yaml:1:1",
        f"stopped after {C.MAX_DIAGNOSTICS} problems",
        "fix these, then validate again",
    )


def test_unknown_names_among_thousands_of_similar_ones() -> None:
    """difflib compares a name with every candidate: 3,000 misses among 3,000 declared
    names were 9 million comparisons."""
    params = "".join(f"  name{i:05d}: 1\n" for i in range(3000))
    uses = "".join(f"${{params.nome{i:05d}}}" for i in range(3000))
    problems = load(HEAD + f"params:\n{params}description: '{uses}'\n")
    assert len(problems) == C.MAX_DIAGNOSTICS + 1
    assert problems[1][1:] == (
        "unknown param 'params.nome00000'",
        "declared: " + ", ".join(f"name{i:05d}" for i in range(10)) + ", … (3,000 in all)",
    )


def test_five_thousand_duplicate_keys_stop_after_the_first_problems() -> None:
    problems = load(HEAD + "params:\n" + "  p: 1\n" * 5_000)
    assert len(problems) == C.MAX_DIAGNOSTICS + 1
    assert problems[:2] == [
        (
            "flow.yaml:1:1",
            f"stopped after {C.MAX_DIAGNOSTICS} problems",
            "fix these, then validate again",
        ),
        (
            "flow.yaml:8:3",
            "duplicate key 'p'",
            "it is first defined on line 7; YAML would silently keep only the last",
        ),
    ]


def test_a_thousand_phases_naming_unknown_agents_among_similar_ones() -> None:
    """Regression: difflib over 450 similar names took 13 ms a miss; with 2,000 misses,
    half a minute. Now suggestions come from at most 100 names, for 200 misses at most."""
    agents = "".join(
        f"  agent{i:04d}: {{type: shell, with: {{run: [echo]}}}}\n" for i in range(100)
    )
    phases = "".join(f"  p{i}: {{agents: [agnet{i:04d}]}}\n" for i in range(1000))
    problems = load(f"version: 1\nagents:\n{agents}phases:\n{phases}")
    assert len(problems) == C.MAX_DIAGNOSTICS + 1
    assert problems[1] == (
        "flow.yaml:104:17",
        "phase 'p0' names unknown agent 'agnet0000'",
        "did you mean 'agent0000'?",
    )


def test_a_long_chain_of_phases_reading_each_other() -> None:
    """A phase's `if:` may read only phases it needs, directly or not: that walk was
    done again for every name in every condition."""
    count = 300
    phases = "".join(
        f"  p{i}: {{agents: [g], needs: [p{i - 1}], if: '{' and '.join(f'phases.p{j}.success' for j in range(max(0, i - 30), i))}'}}\n"
        if i
        else "  p0: {agents: [g]}\n"
        for i in range(count)
    )
    text = f"version: 1\nexecution: graph\nagents:\n  g: {{type: shell, with: {{run: [echo]}}}}\nphases:\n{phases}"
    assert load(text, seconds=2 * QUICK) == []


# -- through the command line ---------------------------------------------------------------


def test_the_command_line_refuses_a_bomb_quickly(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 10_000, encoding="utf-8")
    result = validate_cli([bomb, deep])
    assert result.code == 2
    assert result.out == (
        f"{bomb}:7:1: error: 'g' expands to more than 1,000,000 values\n"
        f"    hint: {LAUGHS}\n"
        f"{deep}:1:66: error: {NESTED}\n"
        f"    hint: {NESTED_HINT}\n"
        "2 errors in 2 files (invalid)\n"
    )
