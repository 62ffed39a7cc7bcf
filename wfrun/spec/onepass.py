"""Read a plain YAML document straight from libyaml's events: data and positions in one
pass, without composing a node tree (the composer and builder cost twice as much).

Only for the common document; anything else is left to the composer (`composer.py`)
and the builder (`builder.py`), whose results tests/test_source_libyaml.py holds this
reader's to.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from wfrun import constants as C
from wfrun.errors import Position
from wfrun.spec.builder import INT_TAG, MAX_INT_CHARS, SCALAR_TAGS, STR_TAG
from wfrun.spec.composer import NESTING_HINT, LimitError
from wfrun.spec.positions import NodePos, PathKey, Source

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

_RESOLVER = Resolver()  # PyYAML's implicit tags (int, bool, null, ...), as its loaders have


class _NotPlainError(Exception):
    """The one-pass reader met what only the composer handles; the composer reads it."""


class _EventReader:
    """Data and positions straight from libyaml's events, in one pass, no node tree.

    For the common document only: no anchor, alias, tag or merge key, and nothing the
    builder would refuse (a duplicate key, an unreadable value). Anything else stops it
    and the composer reads the file, with its checks and messages. It raises the
    composer's limits only at an event it would otherwise take: every event before it
    was plain too, so the composer, reading the same events, stops at the same one.
    """

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.parser = CParser(text)
        self.get = self.parser.get_event
        self.positions: dict[PathKey, NodePos] = {}
        self.values = 0
        self._tags: dict[str, str] = {}  # a plain scalar's tag depends on its text only
        self._built: dict[tuple[str, str], Any] = {}  # immutable: ints, bools, dates
        self._constructor = SafeConstructor()

    def read(self) -> Source:
        if not isinstance(self.get(), yaml.StreamStartEvent):
            raise _NotPlainError
        if not isinstance(self.get(), yaml.DocumentStartEvent):
            raise _NotPlainError  # no document: the composer says the file is empty
        data = self._node(self.get(), (), 0, None)
        if not isinstance(self.get(), yaml.DocumentEndEvent):
            raise _NotPlainError
        if not isinstance(self.get(), yaml.StreamEndEvent):
            raise _NotPlainError  # a second document: the composer refuses it
        return Source(self.file, data, self.positions)

    def _count(self, event: Any, depth: int) -> None:
        """The composer's limits (`_Limits.compose_node`), for a node at `depth`."""
        self.values += 1
        if self.values > C.MAX_NODES:
            msg = f"the document has more than {C.MAX_NODES:,} values"
            raise LimitError(msg, event.start_mark, "split the workflow up")
        if depth > C.MAX_DEPTH:
            msg = f"the document is nested more than {C.MAX_DEPTH} levels deep"
            raise LimitError(msg, event.start_mark, NESTING_HINT)

    @staticmethod
    def _check_plain(event: Any) -> None:
        """Stop at an anchor, a tag, and an empty value (its position is PyYAML's to say:
        libyaml puts it elsewhere)."""
        if event.anchor is not None or event.tag is not None:
            raise _NotPlainError
        if not event.value and not event.style and event.start_mark.index == event.end_mark.index:
            raise _NotPlainError

    def _node(self, event: Any, path: PathKey, depth: int, key: Position | None) -> Any:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            self._check_plain(event)
        elif event is None or kind is yaml.AliasEvent or event.anchor or event.tag is not None:
            raise _NotPlainError
        self._count(event, depth)
        start = event.start_mark
        where = Position(self.file, start.line + 1, start.column + 1)
        if kind is yaml.ScalarEvent:
            return self._scalar(event, path, where, key)
        self.positions[path] = NodePos(where, key)
        if kind is yaml.MappingStartEvent:
            return self._mapping(path, depth)
        if kind is yaml.SequenceStartEvent:
            return self._sequence(path, depth)
        raise _NotPlainError

    def _tag(self, event: Any) -> str:
        """The scalar's resolved tag; only the tags the builder takes."""
        if not event.implicit[0]:
            return STR_TAG
        tag = self._tags.get(event.value)
        if tag is None:
            resolved = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False))  # type: ignore[no-untyped-call]
            tag = self._tags[event.value] = resolved
        if tag not in SCALAR_TAGS:
            raise _NotPlainError  # `=`, say: the builder refuses its tag
        return tag

    def _scalar(self, event: Any, path: PathKey, where: Position, key: Position | None) -> Any:
        tag = self._tag(event)
        start, end, style, text = event.start_mark, event.end_mark, event.style, event.value
        quoted = style in ("'", '"')
        self.positions[path] = NodePos(
            where,
            key,
            quoted=quoted,
            single_line=start.line == end.line and style not in ("|", ">"),
            raw=self.text[start.index : end.index] if quoted else "",
        )
        if tag == STR_TAG:
            return text
        if (tag, text) not in self._built:
            if tag == INT_TAG and len(text) > MAX_INT_CHARS:
                raise _NotPlainError
            node = yaml.ScalarNode(tag, text, start, end, style)
            try:
                self._built[tag, text] = self._constructor.construct_object(node, deep=True)
            except (ValueError, OverflowError, yaml.YAMLError, TypeError, LookupError):
                raise _NotPlainError from None  # the builder's to word
            except AttributeError:
                raise _NotPlainError from None
        return self._built[tag, text]

    def _mapping(self, path: PathKey, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        get = self.get
        while True:
            event: Any = get()
            kind = type(event)
            if kind is yaml.MappingEndEvent:
                return result
            if kind is not yaml.ScalarEvent:
                raise _NotPlainError  # a key that is a list or mapping, or an alias
            name = event.value
            if not name or event.anchor is not None or event.tag is not None or name in result:
                raise _NotPlainError  # a duplicate key is the builder's to report
            if event.implicit[0] and name in ("<<", "="):
                raise _NotPlainError  # a merge key
            self._count(event, depth + 1)
            start = event.start_mark
            where = Position(self.file, start.line + 1, start.column + 1)
            result[name] = self._node(get(), (*path, name), depth + 1, where)

    def _sequence(self, path: PathKey, depth: int) -> list[Any]:
        result: list[Any] = []
        get = self.get
        while True:
            event = get()
            if type(event) is yaml.SequenceEndEvent:
                return result
            result.append(self._node(event, (*path, len(result)), depth + 1, None))


def read_plain(text: str, file: str) -> Source | None:
    """The document by `_EventReader`, or None where the composer must read it."""
    reader = _EventReader(file, text)
    try:
        return reader.read()
    except (_NotPlainError, yaml.YAMLError):
        return None
    finally:
        reader.parser.dispose()
