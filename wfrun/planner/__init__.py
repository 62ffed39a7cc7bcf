"""The lifetime-interval planner: when each resource must be alive, computed up front.

Resource lifetimes are a liveness problem, as registers are for a compiler. The planner
is pure (no I/O, no live objects, never imports rich or typer) and deterministic (ties go
to declaration order). `plan_workflow` gives the static `Plan`; the `Ledger` drives the
real releases at run time from finish/skip/spawn events, one O(resource set) step each.

Points are the phases in order (graph mode: a stable topological order, the static view
of a run whose real releases the ledger drives). A resource lives from just before the
first point that may use it to just after the last. Templates a phase `may_spawn` count
as possible uses: in sequential mode a spawned phase runs right after its spawner, so at
the spawner's point; in graph mode nothing waits for it, so to the last point.

    sets.py    resource_set, phase_order, resource_order: reading the spec
    model.py   Plan, Step, Lifetime, TemplatePlan; Plan.as_dict
    plan.py    plan_workflow -> Plan, and the spawn rules
    ledger.py  Ledger -> Release / Reacquire

`json.dumps(plan.as_dict(), indent=2)` gives (`wfrun plan --json`):

    format          1; bumped on incompatible changes
    workflow        the workflow's name
    execution       "sequential" or "graph"
    order           phase names; point i is order[i] (graph: stable topological order)
    phases[]        one per point, in order:
      index, name   the point and its phase
      needs         the phase's declared needs (the DAG's edges in graph mode)
      resources     its resource set: agents' requires, configured optional, its own
                    `resources:`, closed over resource needs; in start order
      holds         resources plus those of every template it may spawn (transitively)
      spawns        templates it may spawn, directly or through other templates
      start         resources to start just before it, in this order
      stop          resources to stop just after it, in this order
      live          resources live during this point
    resources[]     every acquired resource, in start order:
      name, type
      acquire       first point it must be live at (started just before it)
      release       last point it must be live at (stopped just after it)
      consumers     phases whose resource set holds it
      spawners      phases that may spawn a template that uses it
      templates     spawnable templates whose resource set holds it
      needs         resources it needs (they outlive it)
      needed_by     acquired resources that need it (it outlives them)
      only_for_needs  true when no phase or template names it itself
    unused          declared resources nothing uses: never started
    templates[]     every declared template: name, resources, spawns, holds,
                    spawned_by (listed phases that may spawn it, directly or not)
    start_order     acquired resources, topological by needs, ties by declaration
    stop_order      its reverse
    figures:
      phases, resources   counts (resources = declared)
      acquired            resources the plan starts
      peak                most resources live at one point
      lower_bound         largest single phase resource set: no plan needs fewer
      units_held          sum over resources of (release - acquire + 1)
      units_whole_run     resources x phases: starting everything for the whole run
"""

from __future__ import annotations

from wfrun.planner.ledger import Ledger, LedgerError, Reacquire, Release
from wfrun.planner.model import PLAN_FORMAT, Lifetime, Plan, Step, TemplatePlan
from wfrun.planner.plan import plan_workflow
from wfrun.planner.sets import (
    ResourceIndex,
    phase_order,
    resource_order,
    resource_set,
    stable_topological_order,
)

__all__ = [
    "PLAN_FORMAT",
    "Ledger",
    "LedgerError",
    "Lifetime",
    "Plan",
    "Reacquire",
    "Release",
    "ResourceIndex",
    "Step",
    "TemplatePlan",
    "phase_order",
    "plan_workflow",
    "resource_order",
    "resource_set",
    "stable_topological_order",
]
