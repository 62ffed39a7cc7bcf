"""Read YAML safely and remember where every node came from.

PyYAML's own constructors lose positions and silently keep the last of duplicate keys,
so we compose the node tree with a private SafeLoader subclass and build plain Python
data ourselves, recording each key's and value's position by its path.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, cast

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from wfrun import constants as C
from wfrun.errors import Diagnostic, Position, SpecError, brief
from wfrun.gcpause import gc_paused

PathKey = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_HINT = "wfrun reads plain YAML only"
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
}


_RESOLVER = Resolver()  # PyYAML's implicit tags (int, bool, null, ...), as its loaders have
_MAX_INT_CHARS = 100  # `1:2:3:...` is a YAML 1.1 base-60 int, built in quadratic time
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_NESTING_HINT = "a workflow needs only a few levels; look for an unclosed bracket"
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what the pure-Python reader refuses
LIBYAML = yaml.__with_libyaml__  # parse with libyaml where PyYAML was built with it
ONE_PASS = True  # read plain documents from libyaml's events, without a node tree
# Where libyaml and PyYAML part ways, the pure-Python loader reads the file: characters
# its reader refuses, tabs and a block scalar's `|#` (libyaml lets them through), a
# byte-order mark past the start, and empty values (libyaml puts them elsewhere). tests/test_source_libyaml.py holds the two to one answer.
_PURE_PYTHON_ONLY = re.compile(rf"{_NON_PRINTABLE.pattern}|\t|[|>][-+0-9]*#|(?s:.)\ufeff")


class _LimitError(Exception):
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
            raise _LimitError(msg, event.start_mark, "split the workflow up")
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if event.anchor in self._enclosing:
                msg = f"alias *{brief(event.anchor)[1:-1]} is inside the value it names"
                hint = "YAML allows such recursive values; a workflow cannot use them"
                raise _LimitError(msg, event.start_mark, hint)
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        if len(self._enclosing) > C.MAX_DEPTH:
            msg = f"the document is nested more than {C.MAX_DEPTH} levels deep"
            raise _LimitError(msg, event.start_mark, _NESTING_HINT)
        if isinstance(event, yaml.ScalarEvent):
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        self._enclosing.append(event.anchor)
        try:
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        finally:
            self._enclosing.pop()


class _Loading(Protocol):
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
            raise _LimitError(msg, event.start_mark, "split the workflow up")
        if depth > C.MAX_DEPTH:
            msg = f"the document is nested more than {C.MAX_DEPTH} levels deep"
            raise _LimitError(msg, event.start_mark, _NESTING_HINT)

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
            return _STR_TAG
        tag = self._tags.get(event.value)
        if tag is None:
            resolved = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False))  # type: ignore[no-untyped-call]
            tag = self._tags[event.value] = resolved
        if tag not in _SCALAR_TAGS:
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
        if tag == _STR_TAG:
            return text
        if (tag, text) not in self._built:
            if tag == _INT_TAG and len(text) > _MAX_INT_CHARS:
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


def _read_plain(text: str, file: str) -> Source | None:
    """The document by `_EventReader`, or None where the composer must read it."""
    reader = _EventReader(file, text)
    try:
        return reader.read()
    except (_NotPlainError, yaml.YAMLError):
        return None
    finally:
        reader.parser.dispose()


def _compose(text: str) -> tuple[yaml.Node | None, _Loading]:
    """The composed document and its loader. libyaml where it is installed; any
    problem it finds is found again by the pure-Python loader, whose messages (and
    reader checks) are the ones wfrun documents."""
    if LIBYAML and not _PURE_PYTHON_ONLY.search(text):
        fast = _FastLoader(text)
        try:
            return fast.get_single_node(), fast
        except _LimitError:
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


@dataclass(frozen=True)
class NodePos:
    """Where a value (and, for mapping entries, its key) starts in the file."""

    value: Position
    key: Position | None = None
    quoted: bool = False
    single_line: bool = True
    raw: str = ""  # the source text of a quoted scalar, to map escapes to columns


@dataclass(frozen=True)
class Source:
    """A parsed YAML document: plain data plus a position for every path in it."""

    file: str
    data: Any
    positions: dict[PathKey, NodePos]
    _columns: dict[PathKey, array[int]] = field(default_factory=dict, repr=False, compare=False)

    def node(self, path: PathKey) -> NodePos:
        """The position of the deepest known node on `path` (errors may point below it)."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return NodePos(Position(self.file, 1, 1))

    def value(self, path: PathKey) -> Any:
        """The value at `path` as the file holds it (placeholders not substituted)."""
        return value_at(self.data, path)

    def at(self, path: PathKey, *, key: bool = False) -> Position:
        found = self.node(path)
        if key and found.key is not None:
            return found.key
        return found.value

    def within(self, path: PathKey, offset: int) -> Position:
        """The position of character `offset` inside the string scalar at `path`."""
        found = self.node(path)
        if not found.single_line or tuple(path) not in self.positions:
            return found.value
        shift = offset
        if found.quoted:
            path = tuple(path)
            if path not in self._columns:  # once per string: a string may hold 10,000 errors
                self._columns[path] = _source_columns(found.raw)
            columns = self._columns[path]
            shift = columns[min(offset, len(columns) - 1)] + 1
        return Position(found.value.file, found.value.line, found.value.col + shift)


def _source_columns(raw: str) -> array[int]:
    """For each character of a quoted scalar's value, its index in `raw` minus the quotes;
    one more entry for the end of the value.

    `"\t"` is two characters in the file and one in the value; `'it''s'` likewise.
    """
    double = raw.startswith('"')
    inner = raw[1:-1]
    widths = {"x": 4, "u": 6, "U": 10}
    columns = array("l")
    index = 0
    while index < len(inner):
        columns.append(index)
        if double and inner[index] == "\\" and index + 1 < len(inner):
            index += widths.get(inner[index + 1], 2)
        elif not double and inner.startswith("''", index):
            index += 2
        else:
            index += 1
    columns.append(min(index, len(inner)))
    return columns


def _short_tag(tag: str) -> str:
    """'tag:yaml.org,2002:python/name:os.system' as written: '!!python/name:os.system'."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _position(file: str, mark: yaml.Mark | None) -> Position:
    if mark is None:
        return Position(file, 1, 1)
    return Position(file, mark.line + 1, mark.column + 1)


def position_at(file: str, text: str, offset: int) -> Position:
    """Where character `offset` of `text` is, counting lines as PyYAML's marks do (NEL,
    LS, PS and a lone CR end a line too), so that all positions agree."""
    breaks = list(_LINE_BREAK.finditer(text, 0, offset))
    line_start = breaks[-1].end() if breaks else 0
    return Position(file, len(breaks) + 1, offset - line_start + 1)


def _reader_diagnostic(file: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    where = position_at(file, text, exc.position)
    msg = f"character {chr(exc.character)!r} is not allowed in YAML"
    hint = 'remove it, or write it as an escape inside double quotes, e.g. "\\x1b"'
    return Diagnostic(where, msg, hint)


def parse_yaml(text: str, file: str) -> Source:
    """Parse one YAML document, or raise SpecError with every problem located."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > C.MAX_FILE_BYTES:
        msg = f"file is {size:,} bytes, over the {C.MAX_FILE_BYTES:,}-byte limit"
        raise SpecError([Diagnostic(Position(file, 1, 1), msg, "split the workflow up")])
    with gc_paused():
        return _parse(text, file)


def _parse(text: str, file: str) -> Source:
    if ONE_PASS and LIBYAML and not _PURE_PYTHON_ONLY.search(text):
        try:
            plain = _read_plain(text, file)
        except _LimitError as exc:
            raise SpecError([Diagnostic(_position(file, exc.mark), exc.message, exc.hint)]) from exc
        if plain is not None:
            return plain
    try:
        root, loader = _compose(text)
    except _LimitError as exc:
        raise SpecError([Diagnostic(_position(file, exc.mark), exc.message, exc.hint)]) from exc
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_syntax_diagnostic(file, exc)]) from exc
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_diagnostic(file, text, exc)]) from exc
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(Position(file, 1, 1), f"YAML: {exc}")]) from exc
    except RecursionError as exc:
        msg = "the document is nested too deeply"
        raise SpecError([Diagnostic(Position(file, 1, 1), msg, "flatten it")]) from exc
    if root is None:
        raise SpecError([Diagnostic(Position(file, 1, 1), "the file is empty")])
    too_big = _too_big(file, root, _expansion(root)) if loader.aliases else None
    if too_big is not None:  # an alias bomb: refuse before building anything
        raise SpecError([too_big])
    builder = _Builder(file, loader, text)
    data = builder.build(root, (), 0)
    if builder.diagnostics:
        raise SpecError(builder.diagnostics)
    return Source(file, data, builder.positions)


def _syntax_diagnostic(file: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    msg = f"YAML syntax: {problem}"
    if exc.context and exc.problem:
        msg = f"YAML syntax: {problem} ({exc.context})"
    if exc.problem == "second occurrence" and exc.context_mark is not None:
        # PyYAML words it backwards: "second occurrence (found duplicate anchor 'a'; ...)"
        anchor = (exc.context or "").removeprefix("found duplicate anchor ").split(";")[0]
        msg = f"YAML syntax: duplicate anchor {anchor}"
        hint = f"it is first defined on line {exc.context_mark.line + 1}; rename one of them"
        return Diagnostic(_position(file, mark), _cut(msg), hint)
    return Diagnostic(_position(file, mark), _cut(msg))


def _cut(message: str, limit: int = 200) -> str:
    """PyYAML quotes tokens, anchors and tags whole; a 100,000-character one is no help."""
    return message if len(message) <= limit else f"{message[: limit - 1]}…"


class _Expansion(NamedTuple):
    """What a node holds once aliases are expanded."""

    values: int
    levels: int
    chars: int  # of its scalars: an alias of a long string copies it at every use


def _over(found: _Expansion, *, top: bool = False) -> tuple[str, str] | None:
    """(what is over a limit, hint), or None; the root's own level does not count."""
    if found.values > C.MAX_NODES:
        return (
            f"expands to more than {C.MAX_NODES:,} values",
            "are aliases (*name) repeated inside each other?",
        )
    if found.chars > C.MAX_EXPANDED_CHARS:
        return (
            f"expands to more than {C.MAX_EXPANDED_CHARS:,} characters",
            "is a long string used through many aliases (*name)?",
        )
    if found.levels - top > C.MAX_DEPTH:
        return (
            f"is nested more than {C.MAX_DEPTH} levels deep once aliases are expanded",
            "an alias (*name) puts its whole value where it is used",
        )
    return None


def _too_big(file: str, root: yaml.Node, expanded: dict[int, _Expansion]) -> Diagnostic | None:
    """None if the document is within the limits, else a diagnostic at the first
    top-level entry over one."""
    problem = _over(expanded[id(root)], top=True)
    if problem is None:
        return None
    where, what = root.start_mark, "the document"
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if (own := _over(expanded[id(value)])) is not None:
                where, what, problem = key.start_mark, brief(key.value), own
                break
    return Diagnostic(_position(file, where), f"{what} {problem[0]}", problem[1])


def _expansion(root: yaml.Node) -> dict[int, _Expansion]:
    """What each node holds once aliases are expanded, in O(distinct nodes).

    An alias is the same node object reached twice, so results are memoised by identity;
    the composer has refused cycles, so every walk ends.
    """
    found: dict[int, _Expansion] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in found:
            continue
        children = _children(node)
        if children_done or not children:
            below = [found[id(child)] for child in children]
            found[id(node)] = _Expansion(
                1 + sum(e.values for e in below),
                1 + max((e.levels for e in below), default=0),
                sum(e.chars for e in below) if children else len(str(node.value)),
            )
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in found)
    return found


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Builder:
    """Turns a composed node tree into plain data, checking what PyYAML lets through."""

    def __init__(self, file: str, loader: _Loading, text: str) -> None:
        self.file = file
        self.text = text
        self.loader = loader
        self.positions: dict[PathKey, NodePos] = {}
        self.diagnostics: list[Diagnostic] = []
        self.nodes = 0
        self._raws: dict[int, str] = {}

    def _error(self, node: yaml.Node, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(_position(self.file, node.start_mark), message, hint))

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > C.MAX_NODES:
            if self.nodes == C.MAX_NODES + 1:
                msg = f"the document expands to more than {C.MAX_NODES:,} values"
                self._error(node, msg, "are aliases (*name) repeated inside each other?")
            return None
        if depth > C.MAX_DEPTH:  # only aliases get here: the composer counted the rest
            if not self.diagnostics:
                msg = f"the document is nested more than {C.MAX_DEPTH} levels deep"
                self._error(node, msg, "an alias (*name) puts its whole value where it is used")
            return None
        position = _position(self.file, node.start_mark)
        if path not in self.positions:
            self.positions[path] = NodePos(position)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                return self._refuse_tag(node)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(cast(yaml.ScalarNode, node), path)

    def _raw(self, node: yaml.Node) -> str:
        """The source text of a quoted scalar, sliced once however many aliases use it."""
        if id(node) not in self._raws:
            self._raws[id(node)] = self.text[node.start_mark.index : node.end_mark.index]
        return self._raws[id(node)]

    def _refuse_tag(self, node: yaml.Node) -> None:
        self._error(node, f"tag {brief(_short_tag(node.tag))} is not allowed", _PLAIN_HINT)

    def _scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        if node.tag not in _SCALAR_TAGS:
            return self._refuse_tag(node)
        start, end = node.start_mark, node.end_mark
        quoted = node.style in ("'", '"')
        self.positions[path] = NodePos(
            self.positions[path].value,
            self.positions[path].key,
            quoted=quoted,
            single_line=start.line == end.line and node.style not in ("|", ">"),
            raw=self._raw(node) if quoted else "",
        )
        kind = node.tag.rsplit(":", 1)[-1]
        hint = f"write a valid {kind}, or quote the value to make it text"
        if node.tag == _INT_TAG and len(node.value) > _MAX_INT_CHARS:
            msg = f"{brief(node.value)} is too long to be a number"
            self._error(node, msg, "quote it to make it text")
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # a date out of range, say
            self._error(node, _cut(f"cannot read {brief(node.value)} as {kind}: {exc}"), hint)
        except (yaml.YAMLError, TypeError, LookupError, AttributeError):
            # PyYAML's constructors trust that the resolver's pattern matched; an explicit
            # tag (`!!int ""`, `!!bool x`) skips the pattern, and they fail any which way.
            self._error(node, f"cannot read {brief(node.value)} as {kind}", hint)
        return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self._refuse_tag(node)
            return {}
        own = {id(key) for key, _ in node.value}  # merged-in keys may be overridden
        try:
            self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        except yaml.YAMLError as exc:
            self._error(node, _cut(f"YAML merge: {getattr(exc, 'problem', exc)}"))
            return {}
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._error(key_node, "a key must be a plain string, not a list or mapping")
                continue
            key = str(key_node.value)  # the source text: `on:` stays "on", never True
            if key in first_seen and id(first_seen[key]) in own and id(key_node) in own:
                line = first_seen[key].start_mark.line + 1
                self._error(
                    key_node,
                    f"duplicate key {brief(key)}",
                    f"it is first defined on line {line}; YAML would silently keep only the last",
                )
            first_seen[key] = key_node
            child = (*path, key)
            key_pos = _position(self.file, key_node.start_mark)
            self.positions[child] = NodePos(_position(self.file, value_node.start_mark), key_pos)
            result[key] = self.build(value_node, child, depth + 1)
        return result


def value_at(data: Any, path: PathKey) -> Any:
    """The value at `path` in loaded data, or None where it has none (`with:` left out)."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
