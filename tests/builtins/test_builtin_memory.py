"""`memory`: a shared JSON store, persisted atomically in the run directory."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from wfrun.builtins.errors import MemoryValueError
from wfrun.builtins.memory import Memory, MemoryConfig
from wfrun.engine.api import ResourceContext

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., ResourceContext]


def saved(memory: Memory) -> object:
    return json.loads(memory.path.read_text())


def test_get_set_append_items_and_every_change_is_saved(
    resource_ctx: MakeCtx, run_dir: Path
) -> None:
    memory = Memory(MemoryConfig(initial={"tries": 0}), resource_ctx("notes"))
    assert memory.start() == {"path": str(run_dir / "memory" / "notes.json")}
    assert saved(memory) == {"tries": 0}
    memory.set("tries", 1)
    assert saved(memory) == {"tries": 1}
    assert memory.append("findings", {"path": "/x"}) == [{"path": "/x"}]
    memory.append("findings", "second")
    assert saved(memory) == {"tries": 1, "findings": [{"path": "/x"}, "second"]}
    assert memory.get("findings") == [{"path": "/x"}, "second"]
    assert memory.get("missing") is None
    assert memory.get("missing", []) == []
    assert memory.items() == [("tries", 1), ("findings", [{"path": "/x"}, "second"])]
    assert "tries" in memory
    memory.set("gone", None)
    memory.delete("gone")
    assert "gone" not in saved(memory)  # type: ignore[operator]
    memory.stop()
    assert saved(memory) == {"tries": 1, "findings": [{"path": "/x"}, "second"]}
    assert memory.journal() == {}
    assert not list(memory.path.parent.glob(".*.tmp"))


def test_values_are_copied_in_and_out(resource_ctx: MakeCtx) -> None:
    memory = Memory(MemoryConfig(), resource_ctx())
    memory.start()
    value = {"list": [1, 2]}
    memory.set("k", value)
    value["list"].append(3)
    memory.get("k")["list"].append(4)
    assert memory.get("k") == {"list": [1, 2]}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({1, 2}, "set: Object of type set is not JSON serializable"),
        (object, "type: Object of type type is not JSON serializable"),
        (float("nan"), "float: Out of range float values are not JSON compliant"),
    ],
)
def test_non_json_values_are_refused_clearly(
    resource_ctx: MakeCtx, value: object, why: str
) -> None:
    memory = Memory(MemoryConfig(), resource_ctx("notes"))
    memory.start()
    with pytest.raises(MemoryValueError) as caught:
        memory.set("k", value)
    assert str(caught.value) == (
        f"memory 'notes': the value for 'k' is not JSON ({why}); "
        "store str, int, float, bool, None, list or dict"
    )
    assert "k" not in memory


def test_appending_to_a_non_list_and_non_string_keys(resource_ctx: MakeCtx) -> None:
    memory = Memory(MemoryConfig(initial={"n": 1}), resource_ctx("notes"))
    memory.start()
    with pytest.raises(MemoryValueError, match="cannot append to 'n', it holds a int"):
        memory.append("n", 2)
    with pytest.raises(MemoryValueError, match="keys are strings, got 3"):
        memory.set(3, "x")  # type: ignore[arg-type]


def test_initial_contents_must_be_json() -> None:
    with pytest.raises(ValidationError, match="initial contents must be JSON values"):
        MemoryConfig(initial={"when": dt.date(2024, 1, 1)})  # what YAML makes of 2024-01-01


def test_concurrent_appends_lose_nothing(resource_ctx: MakeCtx) -> None:
    memory = Memory(MemoryConfig(), resource_ctx())
    memory.start()

    def work(worker: int) -> None:
        for i in range(50):
            memory.append("log", [worker, i])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log = saved(memory)["log"]  # type: ignore[index]
    assert len(log) == 400
    assert sorted(map(tuple, log)) == [(w, i) for w in range(8) for i in range(50)]
