"""Hypothesis strategies for hostile workflow files.

Four sources, from blind to informed: random bytes; random YAML-ish text built from
YAML's own punctuation; the example workflows mutated line by line; and documents built
from the schema's real keys and types (so the deeper stages, placeholders, semantic
checks and `if:`, are reached, not only the YAML parser).
"""

from __future__ import annotations

from datetime import date, datetime
from random import Random
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.fuzz.harness import EXAMPLES, REGISTRY
from wfrun.spec.document import (
    AgentDoc,
    PhaseDoc,
    ResourceDoc,
    TemplateDoc,
    WorkflowDoc,
    known_keys,
)

TEXTS = [path.read_text(encoding="utf-8") for path in EXAMPLES]

# -- blind ---------------------------------------------------------------------------------

random_bytes = st.binary(max_size=300) | st.builds(
    lambda text, junk: text.encode("utf-8") + junk, st.sampled_from(TEXTS), st.binary(max_size=8)
)

# Everything YAML gives a meaning to, plus things it must refuse.
YAML_TOKENS = [
    "\n", "\n", "  ", "    ", "- ", "? ", ": ", ":", ",", "[", "]", "{", "}", "#", "&a ", "*a",
    "&b ", "*b", "<<: ", "!", "!!str ", "!!int ", "!!python/name:os.system ", "!tag ", "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n", "---\n", "...\n", "|", "|-", ">", ">+", "'", '"', "''", '\\"', "\\",
    "\\x41", "\\u263a", "\\U0001F600", "\t", "\r", "\r\n", "\x85", "\u2028", "\ufeff", "\x00",
    "\x1b", "~", "null", "true", "no", "on", "0x1F", "0o17", "1_000", "190:20:30", "1e9", ".inf",
    ".nan", "2001-12-14t21:59:43.10-05:00", "=", "${", "}", "${params.x}", "$${", "${env.HOME}",
    "version: 1\n", "phases:\n", "agents:\n", "resources:\n", "a", "b", "x", "é", "☃", "😀",
]  # fmt: skip
yamlish_text = st.lists(st.sampled_from(YAML_TOKENS) | st.text(max_size=3), max_size=60).map(
    "".join
)

# -- mutated examples --------------------------------------------------------------------

insertions = st.one_of(
    st.sampled_from(YAML_TOKENS),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
    st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\ufffe", "\ud7ff", "\U0010ffff"]),
)
FLIPS = {  # a value of one type where another is expected
    "1": ["'1'", "[1]", "{a: 1}", "true", "null", "1.5", "-1", "0x10", "1e400"],
    "true": ["'true'", "yes", "1", "[true]"],
    "graph": ["Graph", "[graph]", "1"],
}


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    """An example workflow with 1-6 line edits: the typos and slips of a real person."""
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if not lines:
            lines = [""]
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        line = lines[i]
        match draw(
            st.sampled_from(["delete", "duplicate", "swap", "indent", "insert", "cut", "flip"])
        ):
            case "delete":
                del lines[i]
            case "duplicate":
                lines.insert(j, line)
            case "swap":
                lines[i], lines[j] = lines[j], line
            case "indent":
                lines[i] = " " * draw(st.integers(min_value=0, max_value=9)) + line.lstrip()
            case "insert":
                col = draw(st.integers(min_value=0, max_value=len(line)))
                lines[i] = line[:col] + draw(insertions) + line[col:]
            case "cut":
                start = draw(st.integers(min_value=0, max_value=len(line)))
                lines[i] = line[:start] + line[draw(st.integers(start, len(line))) :]
            case _:
                lines[i] = _flip(draw, line)
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


def _flip(draw: st.DrawFn, line: str) -> str:
    """Replace the value after a `key:` with a value of another type."""
    key, colon, value = line.partition(": ")
    if not colon:
        return line
    value = value.strip()
    choices = FLIPS.get(value) or ["1", "[]", "{}", "null", "''", "[x, [y]]", "{a: {b: c}}"]
    return f"{key}: {draw(st.sampled_from(choices))}"


# -- documents from the schema -----------------------------------------------------------


def _with_keys() -> list[str]:
    keys = {
        field.alias or name for spec in REGISTRY for name, field in spec.config.model_fields.items()
    }
    return sorted(keys)


TOP_KEYS = [key for key in known_keys(WorkflowDoc) if key != "plugins"]  # plugins import
ENTRY_KEYS = sorted(
    {
        *known_keys(ResourceDoc),
        *known_keys(AgentDoc),
        *known_keys(PhaseDoc),
        *known_keys(TemplateDoc),
    }
)
WITH_KEYS = _with_keys()
NAMES = ["a", "b", "c", "g", "code", "app", "my-phase", "_x", "bad name", "1x", "", "é", "n" * 90]
TYPES = [*REGISTRY.names("resource"), *REGISTRY.names("agent"), "nope", ""]
SNIPPETS = [
    "${params.p}", "${params.nope}", "${params.p.q}", "${env.HOME}", "${env.UNSET_X}",
    "${env.HOME.x}", "${resources.a.path}", "${resources.b.port}", "${resources.a.nope}",
    "${resources.a}", "${phases.a.output}", "${phases.a.nope}", "${phases.zz.success}",
    "${nope.x}", "${}", "${ params.p }", "$${x}", "${", "}", "x ${params.p} y", "${a.b",
    "phases.a.success", "phases.a.success and not params.p", "params.p in [1, 2]",
    "phases.b.status == 'skipped'", "env.CI == '1'", "params.p.upper", "phases.a.__class__",
    "not not not phases.a.failed", "((phases.a.success)", "1 < 2 < 3", "__import__('os')",
    "127.0.0.1:8080", "http://127.0.0.1:1/x", "m:f", "m.n:Cls", "echo hi", "python3",
    "v" * 3000, "${params." + "p" * 500 + "}", "phases." + "a" * 1500 + ".success",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.dates(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from(SNIPPETS),
    st.sampled_from(TYPES),
    st.sampled_from(NAMES),
    st.text(max_size=10),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(WITH_KEYS + NAMES), inner, max_size=4)
    ),
    max_leaves=12,
)
name_lists = st.lists(st.sampled_from(NAMES), max_size=3) | values


FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(TYPES) | scalars,
    "with": st.dictionaries(st.sampled_from(WITH_KEYS), values, max_size=4) | values,
    "needs": name_lists,
    "requires": name_lists,
    "optional": name_lists,
    "agents": name_lists,
    "resources": name_lists,
    "may_spawn": name_lists,
    "if": st.sampled_from(SNIPPETS) | scalars,
    "max_iterations": st.integers(-2, 20) | st.sampled_from(["${params.p}", "3"]) | scalars,
    "timeout": st.floats(-1, 100) | scalars,
    "expect": st.sampled_from(["success", "failure"]) | scalars,
    "params": st.dictionaries(st.sampled_from(NAMES), scalars, max_size=3) | values,
}


def _entry(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A resource, agent, phase or template: its own keys with plausible values, and
    now and then a key from elsewhere in the schema."""
    own = st.fixed_dictionaries({}, optional={key: FIELD_VALUES.get(key, values) for key in keys})
    stray = st.dictionaries(st.sampled_from(ENTRY_KEYS + WITH_KEYS), values, max_size=1)
    return st.builds(lambda a, b: {**b, **a}, own, stray)


sections = {
    "resources": _entry(known_keys(ResourceDoc)),
    "agents": _entry(known_keys(AgentDoc)),
    "phases": _entry(known_keys(PhaseDoc)),
    "templates": _entry(known_keys(TemplateDoc)),
}


def _section(entry: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    return st.dictionaries(st.sampled_from(NAMES), entry | values, max_size=4) | values


structured_documents = st.fixed_dictionaries(
    {"version": st.just(1) | scalars, "phases": _section(sections["phases"])},
    optional={
        "name": st.sampled_from(NAMES) | scalars,
        "description": scalars,
        "params": st.dictionaries(st.sampled_from(["p", "q", *NAMES]), values, max_size=3) | values,
        "resources": _section(sections["resources"]),
        "agents": _section(sections["agents"]),
        "execution": st.sampled_from(["graph", "sequential"]) | scalars,
        "templates": _section(sections["templates"]),
        "extra": values,
    },
)


@st.composite
def structured_texts(draw: st.DrawFn) -> str:
    """A generated document, dumped in block or flow style."""
    document = draw(structured_documents)
    flow = draw(st.booleans())
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_flow_style=flow)


# -- the same, at volume ---------------------------------------------------------------
# Hypothesis spends ~25 µs on each choice it records (so that it can shrink); a generated
# document makes ~200 of them. For volume, one seed drives Python's own `random` instead:
# no useful shrinking, but the failing seed is printed and reproduces the document.

_SECTION_KEYS = {
    "resources": known_keys(ResourceDoc),
    "agents": known_keys(AgentDoc),
    "phases": known_keys(PhaseDoc),
    "templates": known_keys(TemplateDoc),
}
_SCALAR_POOL: list[Any] = [
    None, True, False, 0, 1, -1, 3, 2**64, 1.5, float("inf"), float("nan"), "", "x", "é☃",
    date(2001, 12, 14), datetime(2001, 12, 14, 21, 59, 43),
    *SNIPPETS, *TYPES, *NAMES,
]  # fmt: skip


def _value(rng: Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return rng.choice(_SCALAR_POOL)
    size = rng.randrange(4)
    if roll < 0.8:
        return [_value(rng, depth + 1) for _ in range(size)]
    return {rng.choice(WITH_KEYS + NAMES): _value(rng, depth + 1) for _ in range(size)}


def _field(rng: Random, key: str) -> Any:
    if rng.random() < 0.15:
        return _value(rng)  # anything at all
    match key:
        case "type":
            return rng.choice(TYPES)
        case "with":
            return {rng.choice(WITH_KEYS): _value(rng) for _ in range(rng.randrange(4))}
        case "needs" | "requires" | "optional" | "agents" | "resources" | "may_spawn":
            return [rng.choice(NAMES[:8]) for _ in range(rng.randrange(3))]
        case "if":
            return rng.choice(SNIPPETS)
        case "max_iterations" | "timeout":
            return rng.choice([1, 3, 0, -1, 2.5, "${params.p}", "3"])
        case "expect":
            return rng.choice(["success", "failure", "maybe"])
        case _:
            return {rng.choice(NAMES): rng.choice(_SCALAR_POOL) for _ in range(rng.randrange(3))}


def random_document(seed: int) -> str:
    """A schema-shaped document from one seed, dumped in block or flow style."""
    rng = Random(seed)
    document: dict[str, Any] = {"version": 1 if rng.random() < 0.9 else _value(rng)}
    if rng.random() < 0.7:
        document["params"] = {rng.choice(["p", "q", *NAMES]): _value(rng) for _ in range(3)}
    if rng.random() < 0.3:
        document["execution"] = rng.choice(["graph", "sequential", "parallel"])
    for section, keys in _SECTION_KEYS.items():
        if section != "phases" and rng.random() < 0.25:
            continue
        entries = {}
        for _ in range(rng.randrange(1, 4)):
            chosen = [key for key in keys if rng.random() < 0.5]
            if rng.random() < 0.1:
                chosen.append(rng.choice(ENTRY_KEYS + WITH_KEYS))
            entries[rng.choice(NAMES)] = {key: _field(rng, key) for key in chosen}
        document[section] = entries
    flow = rng.random() < 0.3
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_flow_style=flow)


seeded_documents = st.integers(min_value=0, max_value=2**32 - 1).map(random_document)
