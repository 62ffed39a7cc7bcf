"""Hostile input: fuzzing and resource limits for the loader, the validator and `if:`."""
