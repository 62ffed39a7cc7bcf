"""Small statistics helpers: the code the agent is asked to fix."""

from __future__ import annotations


def mean(values: list[float]) -> float:
    """The arithmetic mean of a non-empty list."""
    return sum(values) / len(values)


def median(values: list[float]) -> float:
    """The middle value of a non-empty list; the mean of the two middle ones if even."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
