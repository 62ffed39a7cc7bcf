"""Hostile input: fuzzing and resource limits for the loader, the validator and `if:`.

    pytest tests/fuzz              # ~2,600 cases, ~35 s on two idle cores
    pytest -m slow tests/fuzz      # twenty times as many, fresh randomness each run

harness.py is the oracle (a Workflow or wfrun's own positioned error, in bounded time),
strategies.py the generators; the session prints how many cases ran, by kind.
"""
