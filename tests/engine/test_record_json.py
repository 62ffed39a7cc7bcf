"""The run record's JSON: what plugins and params may hold comes back as JSON readers expect."""

from __future__ import annotations

import datetime as dt
import json
from types import MappingProxyType
from typing import NamedTuple

from wfrun.engine import events as ev
from wfrun.engine.records import compact_json, readable_json


class Place(NamedTuple):
    host: str
    port: int


ODD = {
    "place": Place("127.0.0.1", 8080),  # a plugin's journal() entry, say
    "frozen": MappingProxyType({"k": "v"}),
    "when": dt.datetime(2026, 11, 23, 12, 30),  # a YAML timestamp param
    "huge": 2**70,  # beyond orjson: the standard encoder takes over
    "path_like": ev,  # anything else: its str
}


def test_named_tuples_are_lists_and_mappings_objects_in_every_writer() -> None:
    for data in ({k: v for k, v in ODD.items() if k != "huge"}, ODD):  # orjson, then json
        back = json.loads(compact_json(data))
        assert back["place"] == ["127.0.0.1", 8080]
        assert back["frozen"] == {"k": "v"}
        assert back["when"].startswith("2026-11-23")
        assert back["path_like"] == str(ev)
    assert json.loads(compact_json(ODD))["huge"] == 2**70


def test_readable_json_indents_two_levels_and_keeps_one_line_per_entry_below() -> None:
    text = readable_json({"phases": {"a": {"status": "ok", "where": Place("h", 1)}}}).decode()
    assert text.splitlines() == [
        "{",
        '  "phases": {',
        '    "a": {"status":"ok","where":["h",1]}',
        "  }",
        "}",
    ]


def test_events_serialise_the_same_way() -> None:
    event = ev.Notice(t=1.5, message="m", level="info")
    assert json.loads(ev.to_json_bytes(event)) == {"kind": "notice", "t": 1.5, **event.as_dict()}
    spawned = ev.PhaseSpawned(
        t=0, phase="p", template="t", spawner="s", params={"at": Place("h", 2)}
    )
    assert json.loads(ev.to_json_bytes(spawned))["params"] == {"at": ["h", 2]}
