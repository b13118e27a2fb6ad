"""civic's test kit, for civic itself and for department packages.

- :class:`Harness`: civic in-process on a temporary database, with the plugins under
  test, a frozen clock, citizens who type (``say``, ``expect``) and attendants who answer
  (``take``, ``reply``, ``close``). See :mod:`civic.testing.harness`.
- :mod:`civic.testing.strategies`: Hypothesis strategies: CPFs and CNPJs in every usual
  typing, Brazilian names, citizen messages (hostile ones too), valid and invalid answers
  for any civic form, scores.
- :class:`DepartmentConformance`: the conformance suite a department package runs with
  one class::

      from civic.testing import DepartmentConformance

      class TestOuvidoria(DepartmentConformance):
          department = "ouvidoria"

- A pytest plugin (entry point ``pytest11``: ``civic``), loaded wherever civic is
  installed: the fixtures ``civic_harness`` and ``civic_harness_factory`` and the marker
  ``@pytest.mark.civic(...)``. See :mod:`civic.testing.pytest_plugin`.

The kit needs civic's ``test`` extra (Hypothesis, hypothesis-jsonschema, pytest) for the
strategies and the conformance suite; the harness needs civic alone. ``docs/testing.md``
explains it with examples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from civic.testing.harness import (
    DEFAULT_ADDRESS,
    DEFAULT_AGENT,
    DEFAULT_START,
    MARIA,
    Attendant,
    Citizen,
    FormView,
    Harness,
    LoggedError,
    Submission,
    build_manager,
)

if TYPE_CHECKING:
    from civic.testing import strategies
    from civic.testing.conformance import DepartmentConformance, KeywordOverlap, keyword_overlaps

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_AGENT",
    "DEFAULT_START",
    "MARIA",
    "Attendant",
    "Citizen",
    "DepartmentConformance",
    "FormView",
    "Harness",
    "KeywordOverlap",
    "LoggedError",
    "Submission",
    "build_manager",
    "keyword_overlaps",
    "strategies",
]

#: Names imported on first use: they need Hypothesis and pytest.
_LAZY = {
    "DepartmentConformance": "civic.testing.conformance",
    "KeywordOverlap": "civic.testing.conformance",
    "keyword_overlaps": "civic.testing.conformance",
    "strategies": "civic.testing.strategies",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'civic.testing' has no attribute {name!r}")
    found = importlib.import_module(module)
    return found if name == "strategies" else getattr(found, name)
