"""Runs a Plan: scheduler, resource pool, events, run records, journal."""
