"""Failpoints: kill the process at a named point, to prove what a crash leaves behind.

Off unless ``CIVIC_FAILPOINTS`` is set (read once, at import): a comma-separated list of
point names, e.g. ``CIVIC_FAILPOINTS=after_send``. When the code reaches a listed point,
:func:`hit` kills its own process with ``SIGKILL`` at once: no ``finally``, no commit, no
answer, exactly what an out-of-memory kill or a power cut does to ``civic serve``. The
fault tests (``tests/faults/``) start ``civic serve`` with it, then start it again
without it and check that nothing was lost and nothing sent twice.

The points:

- ``after_inbox_store``: a WhatsApp delivery was stored and acknowledged (200), and not
  yet handed to the engine;
- ``after_send``: the provider accepted a reply, and civic has not recorded it sent.

Never set it in production.
"""

from __future__ import annotations

import os
import signal

ENV = "CIVIC_FAILPOINTS"
#: Every point the code knows: a misspelt name in the variable fails loudly at import.
POINTS = frozenset({"after_inbox_store", "after_send"})

ARMED = frozenset(name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip())
if ARMED - POINTS:
    raise RuntimeError(f"{ENV} names unknown failpoints: {', '.join(sorted(ARMED - POINTS))}")


def hit(name: str) -> None:
    """Kill this process now if ``name`` is armed (nothing otherwise: a set lookup)."""
    if name in ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
