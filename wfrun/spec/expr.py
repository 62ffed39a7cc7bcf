"""The `if:` expression language: parsed here, evaluated by walking the tree.

Never Python `eval`: a tokenizer and a recursive-descent parser accept only literals,
dotted names, comparisons, `in`, `and`/`or`/`not`, parentheses and list literals.
There are no attribute calls, no function calls, no loops; depth and length are capped.
We wrote it rather than taking a library because the grammar is twenty lines and the
names we need (`phases.my-phase.success`) contain '-', which Python-based evaluators
(simpleeval, asteval) read as subtraction.

    expr    := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := primary (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') primary)?
    primary := literal | name | '(' expr ')' | '[' [expr (',' expr)*] ']'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wfrun import constants as C
from wfrun.errors import brief


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; `offset` is where, in the text."""

    def __init__(self, message: str, *, offset: int = 0, hint: str = "") -> None:
        super().__init__(message)
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True)
class Literal:
    value: Any
    offset: int = field(default=0, compare=False)  # in the text, for validate's messages


@dataclass(frozen=True)
class Name:
    parts: tuple[str, ...]
    offset: int

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class ListLit:
    items: tuple[Node, ...]


Node = Literal | Name | Not | BoolOp | Compare | ListLit

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in"}
_CONSTANTS = {"true": True, "false": False, "null": None}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}
_SPELLING_HINTS = {
    "&&": "write 'and'",
    "||": "write 'or'",
    "!": "write 'not' (or '!=' to compare)",
    "=": "compare with '=='",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # number | string | op | name | keyword | end
    text: str
    offset: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            bad = text[pos : pos + 2]
            hint = _SPELLING_HINTS.get(bad, _SPELLING_HINTS.get(bad[:1], ""))
            msg = f"unexpected character {text[pos]!r}"
            raise ExpressionError(msg, offset=pos, hint=hint)
        kind = match.lastgroup or ""
        if kind != "ws":
            word = match.group()
            if kind == "name" and word in _KEYWORDS:
                kind = "keyword"
            tokens.append(_Token(kind, word, pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _accept(self, text: str) -> bool:
        if self.current.text == text and self.current.kind in ("op", "keyword"):
            self.index += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._accept(text):
            found = brief(self.current.text) if self.current.text else "the end of the expression"
            msg = f"expected {text!r} but found {found}"
            raise ExpressionError(msg, offset=self.current.offset)

    def parse(self) -> Node:
        node = self._or()
        if self.current.kind != "end":
            msg = f"unexpected {brief(self.current.text)} after a complete expression"
            raise ExpressionError(msg, offset=self.current.offset, hint="join with 'and'/'or'")
        return node

    def _nested(self) -> None:
        self.depth += 1
        if self.depth > C.MAX_EXPRESSION_DEPTH:
            msg = f"expression nested more than {C.MAX_EXPRESSION_DEPTH} levels deep"
            raise ExpressionError(msg, offset=self.current.offset)

    def _or(self) -> Node:
        operands = [self._and()]
        while self._accept("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while self._accept("and"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def _not(self) -> Node:
        if self._accept("not"):
            self._nested()
            node = Not(self._not())
            self.depth -= 1
            return node
        return self._compare()

    def _compare(self) -> Node:
        left = self._primary()
        op = self.current.text
        if self.current.kind == "keyword" and op == "not":
            self.index += 1
            self._expect("in")
            op = "not in"
        elif op in _COMPARISONS and self.current.kind in ("op", "keyword"):
            self.index += 1
        else:
            return left
        right = self._primary()
        if self.current.text in _COMPARISONS:
            msg = "comparisons cannot be chained"
            raise ExpressionError(msg, offset=self.current.offset, hint="join them with 'and'")
        return Compare(op, left, right)

    def _primary(self) -> Node:
        token = self._advance()
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal(number, token.offset)
        if token.kind == "string":
            return Literal(_unquote(token.text), token.offset)
        if token.kind == "name":
            if token.text in _CONSTANTS:
                return Literal(_CONSTANTS[token.text], token.offset)
            return Name(tuple(token.text.split(".")), token.offset)
        if token.text in ("(", "["):
            self._nested()
            node: Node
            if token.text == "(":
                node = self._or()
                self._expect(")")
            else:
                items: list[Node] = []
                if not self._accept("]"):
                    items.append(self._or())
                    while self._accept(","):
                        items.append(self._or())
                    self._expect("]")
                node = ListLit(tuple(items))
            self.depth -= 1
            return node
        found = brief(token.text) if token.text else "the end of the expression"
        msg = f"expected a value but found {found}"
        raise ExpressionError(msg, offset=token.offset)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse(text: str) -> Node:
    """Parse an `if:` expression, or raise ExpressionError pointing into `text`."""
    if len(text) > C.MAX_EXPRESSION_CHARS:
        msg = f"expression is longer than {C.MAX_EXPRESSION_CHARS} characters"
        raise ExpressionError(msg)
    if not text.strip():
        msg = "the expression is empty"
        raise ExpressionError(msg, hint="write a condition such as phases.build.success")
    return _Parser(text).parse()


def comparisons(node: Node) -> list[Compare]:
    """Every comparison in the expression, in source order."""
    if isinstance(node, Compare):
        return [node, *comparisons(node.left), *comparisons(node.right)]
    if isinstance(node, Not):
        return comparisons(node.operand)
    if isinstance(node, BoolOp | ListLit):
        children = node.operands if isinstance(node, BoolOp) else node.items
        return [found for child in children for found in comparisons(child)]
    return []


def names(node: Node) -> list[Name]:
    """Every dotted name the expression reads, in source order."""
    if isinstance(node, Name):
        return [node]
    if isinstance(node, Not):
        return names(node.operand)
    if isinstance(node, BoolOp | ListLit):
        children = node.operands if isinstance(node, BoolOp) else node.items
        return [name for child in children for name in names(child)]
    if isinstance(node, Compare):
        return names(node.left) + names(node.right)
    return []


Lookup = Callable[[tuple[str, ...]], Any]


def evaluate(node: Node, lookup: Lookup) -> Any:
    """Evaluate with `lookup` resolving names; raises ExpressionError on a type mismatch."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return lookup(node.parts)
    if isinstance(node, Not):
        return not evaluate(node.operand, lookup)
    if isinstance(node, ListLit):
        return [evaluate(item, lookup) for item in node.items]
    if isinstance(node, BoolOp):
        result: Any = node.op == "and"
        for operand in node.operands:
            result = evaluate(operand, lookup)
            if bool(result) != (node.op == "and"):
                return result
        return result
    left, right = evaluate(node.left, lookup), evaluate(node.right, lookup)
    return _compare(node.op, left, right)


def _compare(op: str, left: Any, right: Any) -> bool:
    try:
        match op:
            case "==":
                return bool(left == right)
            case "!=":
                return bool(left != right)
            case "<":
                return bool(left < right)
            case "<=":
                return bool(left <= right)
            case ">":
                return bool(left > right)
            case ">=":
                return bool(left >= right)
            case "in":
                return left in right
            case _:
                return left not in right
    except TypeError as exc:
        msg = f"cannot apply {op!r} to {left!r} and {right!r}"
        raise ExpressionError(msg) from exc
