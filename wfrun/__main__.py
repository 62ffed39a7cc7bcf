"""`python -m wfrun`."""

from __future__ import annotations

from wfrun.cli import main

raise SystemExit(main())
