"""Sweeps: one workflow run over a matrix of params x trials, each cell a full run.

`spec` reads and validates a sweep (file or command line) and expands it into cells,
`record` keeps `sweep.json`, `local` runs cells as child processes, `dask` on a cluster.
The core never imports rich or typer; `wfrun/ui/sweep_view.py` shows progress and tables.
"""

from __future__ import annotations
