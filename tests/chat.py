"""A scripted citizen for engine tests: send lines, read what civic answered.

It is civic's public test kit's :class:`civic.testing.Citizen` (``Chat`` is the name
these tests grew up with); new tests import from :mod:`civic.testing`.
"""

from __future__ import annotations

from civic.testing import MARIA
from civic.testing import Citizen as Chat

__all__ = ["MARIA", "Chat"]
