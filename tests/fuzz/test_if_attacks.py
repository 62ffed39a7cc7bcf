"""`if:` attacks: attribute access, calls, subscripts, comprehensions, loops and bombs.

The `if:` language is parsed by wfrun's own recursive-descent parser and evaluated by
walking its tree; Python never sees the text. Each attack here is refused when the file
is validated, at a position inside the `if:` string, and nothing is ever evaluated: the
evaluator, `eval`, `exec` and `compile` are replaced by tripwires while validating.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import CASES, check_diagnostics, fuzz_settings
from wfrun import constants as C
from wfrun.spec import expr, inspect_workflow

WORKFLOW = """\
version: 1
params: {text: abc, n: 3, table: {k: 1}, items: [1, 2]}
agents:
  g: {type: shell, with: {run: [echo]}}
phases:
  a: {agents: [g]}
  b:
    agents: [g]
    if: {condition}
"""
IF_LINE, IF_COL = 9, 9  # where the condition's value starts


class EvaluatedError(AssertionError):
    """Something tried to evaluate an expression while a file was only being validated."""


@contextmanager
def _tripwires(condition: str) -> Iterator[None]:
    """Fail the test if the evaluator runs, or `condition` reaches eval, exec or compile.

    Only around validation (pytest compiles when it reports); other code may still
    compile its own (networkx builds its decorators with compile + exec).
    """

    def evaluated(*_args: object, **_kwargs: object) -> Any:
        raise EvaluatedError

    def guard(original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(source: object, *args: object, **kwargs: object) -> Any:
            if isinstance(source, str | bytes) and condition in str(source):
                raise EvaluatedError(source)
            return original(source, *args, **kwargs)

        return guarded

    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}
    evaluate = expr.evaluate
    expr.evaluate = evaluated
    for name, original in saved.items():
        setattr(builtins, name, guard(original))
    try:
        yield
    finally:
        expr.evaluate = evaluate
        for name, original in saved.items():
            setattr(builtins, name, original)


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A path that an escaped `touch` payload would create."""
    yield tmp_path / "pwned"
    assert not (tmp_path / "pwned").exists()


def validate(condition: str) -> list[tuple[str, str, str]]:
    """Validate WORKFLOW with `condition` (YAML double-quoted); return its problems."""
    quoted = '"' + condition.replace("\\", "\\\\").replace('"', '\\"') + '"'
    path = Path("flow.yaml")
    path.write_text(WORKFLOW.replace("{condition}", quoted), encoding="utf-8")
    with _tripwires(condition):
        result = inspect_workflow(path, environ={"HOME": "/home/fuzz"})
    check_diagnostics(result.diagnostics, path, None)
    CASES["if-attack"] += 1
    return [(str(d.position), d.message, d.hint) for d in result.errors]


def refused(condition: str) -> tuple[int, str, str]:
    """The one error for `condition`: (column inside the string, message, hint)."""
    problems = validate(condition)
    assert len(problems) == 1, problems
    [(where, message, hint)] = problems
    _, line, col = where.rsplit(":", 2)
    assert int(line) == IF_LINE, where
    assert IF_COL <= int(col) <= IF_COL + len(condition) + 2, where
    assert message.startswith("if: "), message
    return int(col) - IF_COL - 1, message.removeprefix("if: "), hint


NO_CALLS = "join with 'and'/'or'"

ATTACKS: dict[str, tuple[int, str, str]] = {
    # attribute access: there is none; a dotted name must be one the checker knows
    "phases.a.__class__": (0, "'phases.a.__class__' is not a phase field", "write phases.NAME.FIELD, FIELD one of output, success, failed, skipped, status"),
    "phases.a.output.__class__.__bases__": (0, "'phases.a.output.__class__.__bases__' is not a phase field", "write phases.NAME.FIELD, FIELD one of output, success, failed, skipped, status"),
    "phases.a.success.real": (0, "'phases.a.success.real' is not a phase field", "write phases.NAME.FIELD, FIELD one of output, success, failed, skipped, status"),
    "params.text.upper": (0, "'params.text' is a string, so it has no 'upper'", "write params.text itself; there is no attribute access"),
    "params.n.bit_length": (0, "'params.n' is a number, so it has no 'bit_length'", "write params.n itself; there is no attribute access"),
    "params.table.__class__": (0, "'params.table' has no key '__class__'", "its keys: k"),
    "params.table.k.real": (0, "'params.table.k' is a number, so it has no 'real'", "write params.table.k itself; there is no attribute access"),
    "params.items.__len__": (0, "'params.items' is a list, so it has no '__len__'", "write params.items itself; there is no attribute access"),
    "params.__dict__": (0, "unknown param 'params.__dict__'", "declared params: text, n, table, items"),
    "env.HOME.__class__": (0, "'env.HOME.__class__' should be env.NAME", "write env.NAME"),
    "__builtins__": (0, "unknown name '__builtins__'", "names start with phases., params. or env.; quote text: 'like this'"),
    "__import__": (0, "unknown name '__import__'", "names start with phases., params. or env.; quote text: 'like this'"),
    "().__class__.__bases__": (2, "unexpected character '.'", ""),
    "''.__class__": (2, "unexpected character '.'", ""),
    # calls
    "__import__('os').system('touch pwned')": (16, "unexpected character '.'", ""),
    "params.text.upper()": (17, "unexpected '(' after a complete expression", NO_CALLS),
    "open('/etc/passwd')": (4, "unexpected '(' after a complete expression", NO_CALLS),
    "exec('1')": (4, "unexpected '(' after a complete expression", NO_CALLS),
    "phases.a.success()": (16, "unexpected '(' after a complete expression", NO_CALLS),
    "'{0.__class__}'.format(params)": (15, "unexpected character '.'", ""),
    # subscripts and slices
    "params.text[0]": (11, "unexpected '[' after a complete expression", NO_CALLS),
    "phases['a']": (6, "unexpected '[' after a complete expression", NO_CALLS),
    "params.items[::-1]": (13, "unexpected character ':'", ""),
    # lambdas, comprehensions, walrus, f-strings, conditionals, loops, statements
    "lambda: 1": (6, "unexpected character ':'", ""),
    "(lambda x: x)(1)": (9, "unexpected character ':'", ""),
    "[x for x in params.items]": (3, "expected ']' but found 'for'", ""),
    "{x: 1 for x in params.items}": (0, "unexpected character '{'", ""),
    "(x := 1)": (3, "unexpected character ':'", ""),
    "f'{params.text}'": (1, "unexpected \"'{params.text}'\" after a complete expression", NO_CALLS),
    "params.n if true else false": (9, "unexpected 'if' after a complete expression", NO_CALLS),
    "while true": (6, "unexpected 'true' after a complete expression", NO_CALLS),
    "for x in params.items": (4, "unexpected 'x' after a complete expression", NO_CALLS),
    "import os": (7, "unexpected 'os' after a complete expression", NO_CALLS),
    "yield 1": (6, "unexpected '1' after a complete expression", NO_CALLS),
    "true; true": (4, "unexpected character ';'", ""),
    "@staticmethod": (0, "unexpected character '@'", ""),
    # arithmetic: none, so no 2 ** 10 ** 10
    "2 ** 10 ** 10": (2, "unexpected character '*'", ""),
    "'a' * 1000000000": (4, "unexpected character '*'", ""),
    "'%s' % params.text": (5, "unexpected character '%'", ""),
    "1 + 1 == 2": (2, "unexpected character '+'", ""),
    "~1": (0, "unexpected character '~'", ""),
    # look-alike letters are not names
    "phas\u0435s.a.success": (4, "unexpected character '\u0435'", ""),
    # bombs
    "not " * 5000 + "true": (0, f"expression is longer than {C.MAX_EXPRESSION_CHARS} characters", ""),
    "not " * 40 + "phases.a.failed": (132, f"expression nested more than {C.MAX_EXPRESSION_DEPTH} levels deep", ""),
    "(" * 40 + "true" + ")" * 40: (33, f"expression nested more than {C.MAX_EXPRESSION_DEPTH} levels deep", ""),
    "[" * 40 + "]" * 40: (33, f"expression nested more than {C.MAX_EXPRESSION_DEPTH} levels deep", ""),
    " and ".join(["phases.a.success"] * 200): (0, f"expression is longer than {C.MAX_EXPRESSION_CHARS} characters", ""),
    "params.items == [" + ", ".join(["1"] * 1000) + "]": (0, f"expression is longer than {C.MAX_EXPRESSION_CHARS} characters", ""),
    "'" + "x" * 5000 + "'": (0, f"expression is longer than {C.MAX_EXPRESSION_CHARS} characters", ""),
    "1 < 2 < 3": (6, "comparisons cannot be chained", "join them with 'and'"),
}  # fmt: skip


@pytest.mark.parametrize(("condition", "expected"), ATTACKS.items(), ids=list(range(len(ATTACKS))))
def test_an_attack_is_refused_where_it_is_written(
    canary: Path, condition: str, expected: tuple[int, str, str]
) -> None:
    assert refused(condition.replace("pwned", str(canary))) == expected


@pytest.mark.parametrize(
    "condition",
    [
        "phases.a.success",
        "not not not phases.a.failed",
        "not " * C.MAX_EXPRESSION_DEPTH + "phases.a.failed",
        " and ".join(["phases.a.success"] * 90),
        "params.text == 'abc' and params.table.k == 1 and 2 in params.items",
        "phases.a.output == '__import__(\\'os\\')'",
    ],
    ids=["plain", "three-nots", "nots-at-the-limit", "long-and", "params", "payload-as-text"],
)
def test_what_the_language_allows_still_validates(condition: str) -> None:
    assert validate(condition) == []


def test_params_x_upper_is_refused_before_the_run() -> None:
    """Regression: `params.text.upper` validated, then the scheduler looked up
    'abc'['upper'] mid-run: a TypeError, exit code 3."""
    assert refused("params.text.upper")[1] == "'params.text' is a string, so it has no 'upper'"


# -- the parser on its own, fuzzed -----------------------------------------------------------

PIECES = [
    "phases.a.success", "params.n", "env.HOME", "a", "_", "__class__", ".", "..", "(", ")", "[",
    "]", ",", "'", '"', "'x'", '"y"', "\\", "\\'", "==", "!=", "<", "<=", ">", ">=", "=", "!",
    "in", "not", "and", "or", "is", "if", "else", "for", "lambda", ":", ":=", "*", "**", "+",
    "-", "-1", "1.5", "1e9", "0x1", "true", "false", "null", "None", "{", "}", "@", "`", "$",
    "${", "#", ";", " ", "\t", "\n", "é", "\u0435", "😀",
]  # fmt: skip
expressions = st.lists(st.sampled_from(PIECES) | st.text(max_size=2), max_size=20).map(" ".join)
TREE = (expr.Literal, expr.Name, expr.Not, expr.BoolOp, expr.Compare, expr.ListLit)


def _well_formed(node: expr.Node, depth: int = 0) -> None:
    assert isinstance(node, TREE), node
    assert depth <= 2 * C.MAX_EXPRESSION_DEPTH + 2
    children: tuple[expr.Node, ...] = ()
    if isinstance(node, expr.Not):
        children = (node.operand,)
    elif isinstance(node, expr.BoolOp):
        children = node.operands
    elif isinstance(node, expr.ListLit):
        children = node.items
    elif isinstance(node, expr.Compare):
        children = (node.left, node.right)
    for child in children:
        _well_formed(child, depth + 1)


def _lookup(parts: tuple[str, ...]) -> Any:
    values: list[Any] = [True, False, None, 0, 3, 2.5, "", "abc", [1, "a"], {"k": 1}]
    return values[len(".".join(parts)) % len(values)]


def _parse_and_evaluate(text: str) -> None:
    CASES["expression"] += 1
    try:
        tree = expr.parse(text)
    except expr.ExpressionError as exc:
        problem = exc
    else:
        _well_formed(tree)
        with contextlib.suppress(expr.ExpressionError):
            expr.evaluate(tree, _lookup)
        return
    assert 0 <= problem.offset <= len(text), (problem, problem.offset)
    assert "\n" not in str(problem)


@fuzz_settings(800)
@given(text=expressions)
def test_the_parser_gives_a_small_tree_or_its_own_error(text: str) -> None:
    _parse_and_evaluate(text)


@pytest.mark.slow
@fuzz_settings(16_000, slow=True)
@given(text=expressions)
def test_the_parser_gives_a_small_tree_or_its_own_error_slow(text: str) -> None:
    _parse_and_evaluate(text)
