"""The `if:` language: a small, safe grammar, parsed and evaluated without Python `eval`."""

from __future__ import annotations

from typing import Any

import pytest

from wfrun import constants as C
from wfrun.spec.expr import (
    BoolOp,
    Compare,
    ExpressionError,
    ListLit,
    Literal,
    Name,
    Not,
    evaluate,
    names,
    parse,
)

VALUES: dict[tuple[str, ...], Any] = {
    ("phases", "build", "success"): True,
    ("phases", "build", "output"): "3 passed, 1 warning",
    ("phases", "lint", "success"): False,
    ("phases", "my-phase", "status"): "skipped",
    ("params", "n"): 3,
    ("params", "mode"): "fast",
    ("env", "CI"): "1",
}


def run(text: str) -> Any:
    return evaluate(parse(text), VALUES.__getitem__)


def error(text: str) -> tuple[str, int, str]:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    return str(info.value), info.value.offset, info.value.hint


# -- the tree ----------------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    assert parse("a.x or b.x and c.x") == BoolOp(
        "or", (Name(("a", "x"), 0), BoolOp("and", (Name(("b", "x"), 7), Name(("c", "x"), 15))))
    )


def test_not_binds_looser_than_comparison() -> None:
    assert parse("not a == 1") == Not(Compare("==", Name(("a",), 4), Literal(1)))


def test_parentheses_override_precedence() -> None:
    assert parse("(a or b) and c") == BoolOp(
        "and", (BoolOp("or", (Name(("a",), 1), Name(("b",), 6))), Name(("c",), 13))
    )


def test_chains_of_and_or_are_flat() -> None:
    assert parse("a and b and c") == BoolOp(
        "and", (Name(("a",), 0), Name(("b",), 6), Name(("c",), 12))
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-12", -12),
        ("1.5", 1.5),
        ("-0.5", -0.5),
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'it\'s'", "it's"),
        ("''", ""),
        ("true", True),
        ("false", False),
        ("null", None),
    ],
)
def test_literals(text: str, value: Any) -> None:
    assert parse(text) == Literal(value)


def test_lists() -> None:
    assert parse("[]") == ListLit(())
    assert parse("[1, 'a', [true]]") == ListLit(
        (Literal(1), Literal("a"), ListLit((Literal(True),)))
    )


def test_names_may_hold_dashes_and_are_listed_in_source_order() -> None:
    tree = parse("phases.my-phase.status == 'skipped' or params.n in [1, env.CI]")
    assert [(n.dotted, n.offset) for n in names(tree)] == [
        ("phases.my-phase.status", 0),
        ("params.n", 39),
        ("env.CI", 55),
    ]


# -- evaluation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phases.build.success", True),
        ("phases.build.success and phases.lint.success", False),
        ("phases.build.success and not phases.lint.success", True),
        ("phases.lint.success or params.n > 2", True),
        ("not phases.build.success or params.n == 3", True),
        ("params.n >= 3 and params.n <= 3 and params.n != 4 and params.n < 4", True),
        ("'passed' in phases.build.output", True),
        ("'failed' not in phases.build.output", True),
        ("params.mode in ['fast', 'slow']", True),
        ("params.n not in [1, 2]", True),
        ("phases.my-phase.status == 'skipped'", True),
        ("env.CI == '1'", True),
        ("env.CI == 1", False),  # env values are text
        ("false or null", None),
        ("(params.n > 1) == true", True),
    ],
)
def test_evaluate(text: str, expected: Any) -> None:
    assert run(text) == expected


def test_and_or_short_circuit() -> None:
    """The right side is not looked up when the left decides: a name that would fail
    (a phase that was skipped, say) is not touched."""
    seen: list[tuple[str, ...]] = []

    def lookup(parts: tuple[str, ...]) -> Any:
        seen.append(parts)
        return VALUES[parts]

    assert evaluate(parse("phases.lint.success and phases.nope.x"), lookup) is False
    assert evaluate(parse("phases.build.success or phases.nope.x"), lookup) is True
    assert seen == [("phases", "lint", "success"), ("phases", "build", "success")]


def test_comparing_unlike_types_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError) as info:
        run("params.n < 'x'")
    assert str(info.value) == "cannot apply '<' to 3 and 'x'"
    with pytest.raises(ExpressionError):
        run("1 in 2")


# -- what the grammar refuses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 < 2 < 3", ("comparisons cannot be chained", 6, "join them with 'and'")),
        ("a == b == c", ("comparisons cannot be chained", 7, "join them with 'and'")),
        ("a in b in c", ("comparisons cannot be chained", 7, "join them with 'and'")),
        ("foo()", ("unexpected '(' after a complete expression", 3, "join with 'and'/'or'")),
        ("a.b()", ("unexpected '(' after a complete expression", 3, "join with 'and'/'or'")),
        (
            "__import__('os').system('id')",
            ("unexpected character '.'", 16, ""),
        ),
        ("x[0]", ("unexpected '[' after a complete expression", 1, "join with 'and'/'or'")),
        (
            "a if b else c",
            ("unexpected 'if' after a complete expression", 2, "join with 'and'/'or'"),
        ),
        ("lambda: 1", ("unexpected character ':'", 6, "")),
        ("1 + 2", ("unexpected character '+'", 2, "")),
        ("a = b", ("unexpected character '='", 2, "compare with '=='")),
        ("a && b", ("unexpected character '&'", 2, "write 'and'")),
        ("a || b", ("unexpected character '|'", 2, "write 'or'")),
        ("!a", ("unexpected character '!'", 0, "write 'not' (or '!=' to compare)")),
        ("a.", ("unexpected character '.'", 1, "")),
        ("a not b", ("expected 'in' but found 'b'", 6, "")),
        ("(a", ("expected ')' but found the end of the expression", 2, "")),
        ("[1,]", ("expected a value but found ']'", 3, "")),
        ("a ==", ("expected a value but found the end of the expression", 4, "")),
        ("", ("the expression is empty", 0, "write a condition such as phases.build.success")),
        ("  ", ("the expression is empty", 0, "write a condition such as phases.build.success")),
    ],
)
def test_syntax_errors(text: str, expected: tuple[str, int, str]) -> None:
    assert error(text) == expected


def test_an_unterminated_string_is_refused() -> None:
    message, offset, _ = error("phases.build.output == 'abc")
    assert (message, offset) == ('unexpected character "\'"', 23)


def test_dunder_attributes_parse_as_plain_names_that_no_lookup_resolves() -> None:
    """No attribute access exists: `a.__class__` is just a four-part name, which the
    checker rejects at load time (see test_checks) and a lookup never finds."""
    tree = parse("phases.build.output.__class__")
    assert tree == Name(("phases", "build", "output", "__class__"), 0)
    with pytest.raises(KeyError):
        evaluate(tree, VALUES.__getitem__)


def test_length_is_capped() -> None:
    text = "a or " * 400 + "a"
    assert len(text) > C.MAX_EXPRESSION_CHARS
    assert error(text) == ("expression is longer than 2000 characters", 0, "")
    parse("a or " * 399 + "a")  # 1996 characters: fine


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("(" * 33 + "a" + ")" * 33, 33),
        ("[" * 33 + "]" * 33, 33),
        ("not " * 33 + "a", 132),
    ],
    ids=["parentheses", "lists", "not"],
)
def test_depth_is_capped(text: str, offset: int) -> None:
    assert error(text) == ("expression nested more than 32 levels deep", offset, "")


def test_depth_at_the_cap_is_fine() -> None:
    assert parse("(" * 32 + "a" + ")" * 32) == Name(("a",), 32)
    assert parse("not " * 32 + "a") is not None


def test_the_parser_never_calls_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins  # noqa: PLC0415

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("eval/exec/compile called")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    assert run("params.n in [1, 2, 3] and not phases.lint.success") is True
