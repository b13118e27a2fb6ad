"""Citizen-facing text: catalogues of templates and word lists, Brazilian Portuguese by
default.

Every sentence civic says to a citizen, and every list of words it recognises, has a key
in a catalogue. The core's catalogue is ``civic/locales/<locale>/*.json``; a plugin ships
its own in ``<package>/locales/<locale>/*.json`` and registers the package through the
``register_texts`` hook. A city overrides any key in its configuration (``[texts]``).

Keys are namespaced: the core's have no dot (``welcome``) or start with ``words.``; a
department's start with its slug (``procon.next_steps``). A key under ``words.`` (or
``<slug>.words.``) holds a list of words or phrases, compared folded (see
:func:`civic.text.fold`); every other key holds a ``str.format`` template.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

DEFAULT_LOCALE = "pt-BR"
#: The core's package: its catalogue comes first, plugins' are added to it.
CORE_PACKAGE = "civic"

Catalog = Mapping[str, "str | tuple[str, ...]"]


class MissingText(KeyError):
    """A text key that neither the locale nor the overrides define."""


def is_word_list(key: str) -> bool:
    """Whether ``key`` names a list of words rather than a template."""
    return key.startswith("words.") or ".words." in key


def load_catalog(locale: str = DEFAULT_LOCALE, packages: Iterable[str] = ()) -> dict[str, Any]:
    """The merged catalogue of the core and ``packages`` for ``locale`` (default texts
    first, so a locale lacking a key still says the Portuguese one)."""
    catalog: dict[str, Any] = {}
    for package in (CORE_PACKAGE, *packages):
        catalog.update(_read_catalog(package, DEFAULT_LOCALE))
        if locale != DEFAULT_LOCALE:
            catalog.update(_read_catalog(package, locale))
    return catalog


@cache
def _read_catalog(package: str, locale: str) -> Catalog:
    """A package's catalogue files are package data: read once per process."""
    try:
        folder = resources.files(package).joinpath("locales", locale)
    except (ModuleNotFoundError, TypeError):
        raise MissingText(f"{package}: not an importable package") from None
    if not folder.is_dir():
        if package == CORE_PACKAGE:
            raise MissingText(f"no catalogue for locale {locale!r}")
        return MappingProxyType({})
    catalog: dict[str, str | tuple[str, ...]] = {}
    for part in sorted(folder.iterdir(), key=lambda item: item.name):
        if part.name.endswith(".json"):
            for key, value in json.loads(part.read_text(encoding="utf-8")).items():
                catalog[key] = tuple(value) if isinstance(value, list) else value
    return MappingProxyType(catalog)


class Texts:
    """Looks up and fills a template (``texts("welcome", city="...")``) and reads word
    lists (``texts.words("yes")``).

    :param locale: the city's locale; keys it lacks fall back to ``pt-BR``.
    :param overrides: the city's ``[texts]``: a template or a list of words per key.
    :param packages: the plugins' catalogue packages (see the ``register_texts`` hook).
    :param derived: texts the departments' registrations hold (their names, greetings,
        topic titles, form questions; see :func:`civic.departments.department_texts`):
        the catalogues win over them, the city's overrides over both.
    """

    def __init__(
        self,
        locale: str = DEFAULT_LOCALE,
        overrides: Mapping[str, Any] | None = None,
        packages: Iterable[str] = (),
        derived: Mapping[str, str] | None = None,
    ) -> None:
        self.locale = locale
        self.packages = tuple(packages)
        self.defaults = {**(derived or {}), **load_catalog(locale, self.packages)}
        self.catalog: dict[str, Any] = {**self.defaults}
        for key, value in (overrides or {}).items():
            self.catalog[key] = tuple(value) if isinstance(value, list) else value
        self._words: dict[str, frozenset[str]] = {}

    def __call__(self, key: str, **values: Any) -> str:
        try:
            template = self.catalog[key]
        except KeyError:
            raise MissingText(key) from None
        if not isinstance(template, str):
            raise MissingText(f"{key} is a word list, not a text")
        try:
            return template.format_map(_Lenient(values))
        except (ValueError, IndexError, AttributeError, KeyError):
            # A city's override with a broken placeholder: say the default instead.
            return str(self.defaults.get(key, template)).format_map(_Lenient(values))

    def __contains__(self, key: object) -> bool:
        return key in self.catalog

    def get(self, key: str, default: str | None = None, **values: Any) -> str | None:
        """The filled template ``key``, or ``default`` when no catalogue defines it."""
        return self(key, **values) if key in self.catalog else default

    def words(self, name: str) -> frozenset[str]:
        """The folded words and phrases of the list ``words.<name>`` (``name`` may be a
        plugin's own ``<slug>.words.<name>`` key when it holds a dot)."""
        try:
            return self._words[name]
        except KeyError:
            pass
        from civic.text import fold

        key = name if "." in name else f"words.{name}"
        try:
            values = self.catalog[key]
        except KeyError:
            raise MissingText(key) from None
        words = frozenset(filter(None, (fold(str(value)) for value in values)))
        self._words[name] = words
        return words

    def numbers(self) -> dict[str, int]:
        """Number words and their values, from ``words.number_0`` ... ``words.number_10``
        (``"cinco"`` -> 5)."""
        found: dict[str, int] = {}
        for value in range(11):
            if f"words.number_{value}" in self.catalog:
                found.update(dict.fromkeys(self.words(f"number_{value}"), value))
        return found


class _Lenient(dict[str, Any]):
    """Leave unknown placeholders visible rather than crash on a city's typo."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def override_problems(
    overrides: Mapping[str, Any],
    locale: str = DEFAULT_LOCALE,
    packages: Iterable[str] | None = None,
    derived: Mapping[str, str] | None = None,
) -> list[str]:
    """Why each of a city's text overrides cannot be used (``[]`` when all can).

    With ``packages=None`` (the plugins are not known yet, as when the file is parsed) a
    key of a plugin's namespace (``<slug>.<name>``) is not checked; the engine and
    ``civic config check`` check it again with the installed plugins.
    """
    defaults = {**(derived or {}), **load_catalog(locale, packages or ())}
    problems = []
    for key, value in overrides.items():
        if key not in defaults:
            plugin_key = "." in key and not key.startswith("words.")
            if packages is None and plugin_key:
                continue
            problems.append(f"{key}: unknown text key")
            continue
        if is_word_list(key):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(f'{key}: a list of words is expected, like ["sim", "s"]')
            elif not any(v.strip() for v in value):
                problems.append(f"{key}: the list of words is empty")
            continue
        if not isinstance(value, str):
            problems.append(f"{key}: a text is expected")
            continue
        try:
            names = placeholders(value)
        except ValueError as exc:
            problems.append(f"{key}: broken placeholder: {exc}")
            continue
        unknown = names - placeholders(str(defaults[key]))
        if unknown or any(not name.isidentifier() for name in names):
            allowed = ", ".join(sorted(placeholders(str(defaults[key])))) or "none"
            bad = ", ".join(sorted(unknown or names))
            problems.append(f"{key}: unknown placeholder {{{bad}}} (allowed: {allowed})")
    return problems


def catalogue_packages(pm: Any) -> tuple[str, ...]:
    """The packages plugins registered through ``register_texts``, in plugin order."""
    packages: list[str] = []
    pm.hook.register_texts(register=packages.append)
    return tuple(dict.fromkeys(packages))
