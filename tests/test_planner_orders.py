"""The stable topological order on graphs larger than the planner's random workflows.

`tests/test_planner.py` checks orders inside whole plans of at most seven phases; here
the order alone meets networkx on a few dozen names, declared in any order, where the
waiting Kahn's heap, its linked waiting lists and its one-pass shortcut all get used.
"""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfrun.errors import PlanError
from wfrun.planner import stable_topological_order


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """Names in a random declaration order; each needs up to 3 names of lower rank."""
    count = draw(st.integers(0, 40))
    names = [f"n{i}" for i in range(count)]  # rank order: needs point to lower ranks
    needs = {
        name: tuple(draw(st.lists(st.sampled_from(names[:i]), max_size=3, unique=True)))
        if i
        else ()
        for i, name in enumerate(names)
    }
    declared = draw(st.permutations(names))
    return list(declared), needs


def networkx_order(names: list[str], needs: dict[str, tuple[str, ...]]) -> list[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from((need, name) for name in names for need in needs[name])
    return list(nx.lexicographical_topological_sort(graph, key=names.index))


@settings(max_examples=300, deadline=None)
@given(dags())
def test_stable_topological_order_matches_networkx(
    dag: tuple[list[str], dict[str, tuple[str, ...]]],
) -> None:
    names, needs = dag
    assert list(stable_topological_order(names, needs)) == networkx_order(names, needs)


def test_names_waiting_on_the_same_need_all_wake() -> None:
    needs = {"a": ("z",), "b": ("z",), "c": ("z", "a"), "z": ()}
    assert stable_topological_order(("a", "b", "c", "z"), needs) == ("z", "a", "b", "c")


def test_a_cycle_behind_a_valid_prefix_is_reported_by_name() -> None:
    needs = {"ok": (), "x": ("y",), "y": ("x",), "after": ("ok",)}
    with pytest.raises(PlanError, match="cannot order x, y: their needs form a cycle"):
        stable_topological_order(("ok", "x", "y", "after"), needs)
