"""The tests that must pass; the agent may not change this file."""

# unittest, not pytest: the task needs nothing but the standard library.
# ruff: noqa: PT009

from __future__ import annotations

import unittest

from stats import mean, median


class StatsTest(unittest.TestCase):
    def test_mean(self) -> None:
        self.assertEqual(mean([1, 2, 3, 4]), 2.5)

    def test_median_of_an_odd_count(self) -> None:
        self.assertEqual(median([3, 1, 2]), 2)

    def test_median_of_an_even_count(self) -> None:
        self.assertEqual(median([4, 1, 3, 2]), 2.5)


if __name__ == "__main__":
    unittest.main()
