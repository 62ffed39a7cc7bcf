"""Everything that prints: diagnostics, plans, live progress. Only here and cli.py use rich."""
