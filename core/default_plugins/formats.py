"""The Brazilian formats (``cpf``, ``cnpj``, ``cep``, ``phone``, ``date``, ``money``,
``email``) as JSON-Schema format checkers; see :mod:`civic.formats`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from civic import formats
from civic.hookspecs import hookimpl


@hookimpl
def register_format_checkers(register: Callable[[str, Callable[[Any], bool]], None]) -> None:
    for fmt in formats.FORMATS.values():
        register(fmt.name, fmt.check)
