"""Citizen-facing text: a catalogue of templates, Brazilian Portuguese by default.

Every sentence civic says to a citizen has a key here. A locale file in ``locales/``
translates them, and a city overrides any of them in its configuration.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

DEFAULT_LOCALE = "pt-BR"


class MissingText(KeyError):
    """A text key that neither the locale nor the overrides define."""


def load_catalog(locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """The catalogue of ``locale``: every ``civic/locales/<locale>/*.json`` file."""
    return dict(_read_catalog(locale))


@cache
def _read_catalog(locale: str) -> Mapping[str, str]:
    """The catalogue files are package data: read once per process, not per engine."""
    folder = resources.files("civic").joinpath("locales", locale)
    if not folder.is_dir():
        raise MissingText(f"no catalogue for locale {locale!r}")
    catalog: dict[str, str] = {}
    for part in sorted(folder.iterdir(), key=lambda item: item.name):
        if part.name.endswith(".json"):
            catalog.update(json.loads(part.read_text(encoding="utf-8")))
    return MappingProxyType(catalog)


class Texts:
    """Looks up and fills a template: ``texts("welcome", name="Maria")``."""

    def __init__(
        self, locale: str = DEFAULT_LOCALE, overrides: Mapping[str, str] | None = None
    ) -> None:
        self.locale = locale
        self.defaults = {**_read_catalog(DEFAULT_LOCALE), **_read_catalog(locale)}
        self.catalog = {**self.defaults, **(overrides or {})}

    def __call__(self, key: str, **values: Any) -> str:
        try:
            template = self.catalog[key]
        except KeyError:
            raise MissingText(key) from None
        try:
            return template.format_map(_Lenient(values))
        except (ValueError, IndexError, AttributeError, KeyError):
            # A city's override with a broken placeholder: say the default instead.
            return self.defaults.get(key, template).format_map(_Lenient(values))


class _Lenient(dict[str, Any]):
    """Leave unknown placeholders visible rather than crash on a city's typo."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def override_problems(overrides: Mapping[str, str], locale: str = DEFAULT_LOCALE) -> list[str]:
    """Why each of a city's text overrides cannot be used (``[]`` when all can)."""
    defaults = {**_read_catalog(DEFAULT_LOCALE), **_read_catalog(locale)}
    problems = []
    for key, template in overrides.items():
        if key not in defaults:
            problems.append(f"{key}: unknown text key")
            continue
        try:
            names = placeholders(template)
        except ValueError as exc:
            problems.append(f"{key}: broken placeholder: {exc}")
            continue
        unknown = names - placeholders(defaults[key])
        if unknown or any(not name.isidentifier() for name in names):
            allowed = ", ".join(sorted(placeholders(defaults[key]))) or "none"
            bad = ", ".join(sorted(unknown or names))
            problems.append(f"{key}: unknown placeholder {{{bad}}} (allowed: {allowed})")
    return problems
