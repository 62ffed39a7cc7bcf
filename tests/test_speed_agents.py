"""A python agent's `call:` is looked at once per agent, not again for every phase."""

from __future__ import annotations

from pathlib import Path

PHASES = 6

# A callable whose signature can be counted: `inspect.signature` reads `__signature__`.
COUNTED = """
import inspect
from pathlib import Path


class Counted:
    reads = 0

    @property
    def __signature__(self):
        Counted.reads += 1
        ctx = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return inspect.Signature([ctx])

    def __call__(self, ctx):
        Path(__file__).with_name("reads.txt").write_text(str(Counted.reads))


agent = Counted()
"""


def test_a_python_agent_is_inspected_once_over_many_phases(wfrun_project, tmp_path: Path) -> None:
    module = f"counted_{tmp_path.name.replace('-', '_')}"  # the import system caches names
    phases = "\n".join(f"  p{i}: {{agents: [a], max_iterations: 1}}" for i in range(PHASES))
    project = wfrun_project(
        {
            f"{module}.py": COUNTED,
            "flow.yaml": (
                f"version: 1\nname: counted\nagents:\n"
                f"  a: {{type: python, with: {{call: '{module}:agent'}}}}\n"
                f"phases:\n{phases}\n"
            ),
        }
    )
    outcome = project.run("run", "--quiet", "flow.yaml")
    outcome.assert_success()
    assert (project.path / "reads.txt").read_text() == "1"
