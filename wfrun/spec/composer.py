"""Compose YAML into PyYAML's node tree, within wfrun's limits.

libyaml parses where PyYAML was built with it; the pure-Python loader reads what
libyaml reads differently, and has the last word on what is wrong. Both count values,
depth and aliases as they compose, so an oversized document is refused where it crosses
a limit, not after all of it was read.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from wfrun import constants as C
from wfrun.errors import brief

NESTING_HINT = "a workflow needs only a few levels; look for an unclosed bracket"
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what the pure-Python reader refuses
# Where libyaml and PyYAML part ways, the pure-Python loader reads the file: characters
# its reader refuses, tabs and a block scalar's `|#` (libyaml lets them through), a
# byte-order mark past the start, and empty values (libyaml puts them elsewhere).
# tests/test_source_libyaml.py holds the two to one answer.
PURE_PYTHON_ONLY = re.compile(rf"{_NON_PRINTABLE.pattern}|\t|[|>][-+0-9]*#|(?s:.)\ufeff")


class LimitError(Exception):
    """A document over a limit, found while composing: refused before it costs more."""

    def __init__(self, message: str, mark: Any, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.hint = hint


class _DivergedError(Exception):
    """libyaml read something whose position PyYAML gives differently."""


class _Limits:
    """Counts while composing, for either loader below.

    PyYAML's composer recurses once per level (deep nesting ends in RecursionError
    after seconds of scanning), an alias inside the node it names makes a cyclic graph
    that nothing downstream can walk, and every value costs time, so a document over
    the limits is refused at the node that crosses them, not after all of it was read.
    """

    aliases = 0  # none: the document is what was composed, so within the limits
    _values = 0
    _enclosing: list[str | None]  # anchors of the collections being composed

    def _most_values(self) -> int:
        return C.MAX_NODES

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()  # type: ignore[attr-defined]
        self._values += 1
        if self._values > self._most_values():
            msg = f"the document has more than {self._most_values():,} values"
            raise LimitError(msg, event.start_mark, "split the workflow up")
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if event.anchor in self._enclosing:
                msg = f"alias *{brief(event.anchor)[1:-1]} is inside the value it names"
                hint = "YAML allows such recursive values; a workflow cannot use them"
                raise LimitError(msg, event.start_mark, hint)
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        if len(self._enclosing) > C.MAX_DEPTH:
            msg = f"the document is nested more than {C.MAX_DEPTH} levels deep"
            raise LimitError(msg, event.start_mark, NESTING_HINT)
        if isinstance(event, yaml.ScalarEvent):
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        self._enclosing.append(event.anchor)
        try:
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        finally:
            self._enclosing.pop()


class Loading(Protocol):
    """What the builder uses of either loader below."""

    aliases: int

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any: ...
    def flatten_mapping(self, node: yaml.MappingNode) -> None: ...


class _Loader(_Limits, yaml.SafeLoader):
    """PyYAML's pure-Python loader, our own subclass: nothing we do touches the global
    SafeLoader. Its reader rejects control characters as it is made."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._enclosing = []

    def _most_values(self) -> int:
        return min(C.MAX_NODES, C.MAX_NODES_PURE_PYTHON)  # bounds its time, as the other


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastLoader(_Limits, Composer, CParser, SafeConstructor, Resolver):
        """libyaml scans and parses (in C, several times faster); composing, limits and
        construction stay the Python ones above, so positions and checks are the same."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._enclosing = []

        def peek_event(self) -> yaml.Event | None:
            event = CParser.peek_event(self)
            if isinstance(event, yaml.ScalarEvent):
                if event.tag == "!":  # `! text`: PyYAML resolves it as if untagged
                    event.implicit = (True, False)
                elif (
                    not event.value
                    and not event.style  # plain: libyaml says "", PyYAML None
                    and event.start_mark is not None
                    and event.end_mark is not None
                    and event.start_mark.index == event.end_mark.index
                ):
                    raise _DivergedError  # an empty value: its position is PyYAML's to say
            return event


def compose(text: str, *, libyaml: bool) -> tuple[yaml.Node | None, Loading]:
    """The composed document and its loader. libyaml if `libyaml` (installed, and the
    text has nothing of `PURE_PYTHON_ONLY`); any problem it finds is found again by the
    pure-Python loader, whose messages (and reader checks) are the ones wfrun documents."""
    if libyaml:
        fast = _FastLoader(text)
        try:
            return fast.get_single_node(), fast
        except LimitError:
            raise
        except (yaml.YAMLError, _DivergedError):
            pass
        finally:
            fast.dispose()
    loader = _Loader(text)  # raises ReaderError for a control character
    try:
        return loader.get_single_node(), loader
    finally:
        loader.dispose()
