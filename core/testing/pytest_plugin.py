"""civic's pytest plugin (entry point ``pytest11``: ``civic``), loaded by pytest wherever
civic is installed; ``-p no:civic`` turns it off.

Fixtures:

``civic_harness``
    A :class:`~civic.testing.Harness` with every installed plugin (the built-in
    departments and yours), closed after the test. The marker changes how it is built::

        @pytest.mark.civic(my_plugin, installed=False, config={"city": "Lavras"})
        def test_alone(civic_harness):
            civic_harness.say(MARIA)

    (the marker's arguments are :class:`~civic.testing.Harness`'s).

``civic_harness_factory``
    Builds as many harnesses as a test wants (``civic_harness_factory(plugin, ...)``),
    all closed after it.

The conformance suite (:class:`civic.testing.DepartmentConformance`) needs no fixture
from here: a class that inherits it carries its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # civic's engine is imported when a fixture is used, not at start-up
    from civic.testing.harness import Harness


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``civic`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        "civic(*plugins, installed=True, config=None, start=None, strict=True): how the "
        "civic_harness fixture builds its Harness (civic.testing.Harness's arguments)",
    )


@pytest.fixture
def civic_harness_factory() -> Iterator[Callable[..., Harness]]:
    """A function building :class:`~civic.testing.Harness` es (its arguments are the
    harness's); every harness built is closed after the test."""
    from civic.testing.harness import Harness

    made: list[Harness] = []

    def make(*plugins: object, **options: Any) -> Harness:
        harness = Harness(*plugins, **options)
        made.append(harness)
        return harness

    try:
        yield make
    finally:
        for harness in made:
            harness.close()


@pytest.fixture
def civic_harness(
    request: pytest.FixtureRequest, civic_harness_factory: Callable[..., Harness]
) -> Harness:
    """A :class:`~civic.testing.Harness` with every installed plugin, or as the test's
    ``@pytest.mark.civic(...)`` says."""
    marker = request.node.get_closest_marker("civic")
    plugins: tuple[Any, ...] = marker.args if marker else ()
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    options.setdefault("installed", True)
    if options.get("start") is None:
        options.pop("start", None)
    return civic_harness_factory(*plugins, **options)
