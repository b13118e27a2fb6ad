"""Collecting the departments plugins register, and checking them."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator

import attrs
import pluggy

from civic.forms import build_format_checker, form_errors
from civic.plugins import each_plugin
from civic.texts import Texts
from civic.values import Department

log = logging.getLogger(__name__)

_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@attrs.frozen
class Problem:
    """Why a plugin's department was left out."""

    plugin: str
    department: str
    reason: str


@attrs.define
class Registry:
    """The enabled departments in menu order, who registered each, and what was left out."""

    departments: list[Department] = attrs.field(factory=list)
    owners: dict[str, str] = attrs.field(factory=dict)
    problems: list[Problem] = attrs.field(factory=list)

    def __iter__(self) -> Iterator[Department]:
        return iter(self.departments)

    def __len__(self) -> int:
        return len(self.departments)

    def get(self, slug: str | None) -> Department | None:
        return next((d for d in self.departments if d.slug == slug), None)

    @property
    def slugs(self) -> list[str]:
        return [d.slug for d in self.departments]


def collect(
    manager: pluggy.PluginManager,
    enabled: Iterable[str] | None = None,
    formats: frozenset[str] | None = None,
) -> Registry:
    """Ask every plugin for its departments; keep the valid, enabled ones.

    ``enabled`` (from the city configuration) keeps only those slugs, in that order;
    otherwise departments appear in their ``order``, then by name. ``formats`` are the
    registered format names forms may use (looked up when not given).
    """
    found: dict[str, Department] = {}
    registry = Registry()
    if formats is None:
        formats = frozenset(build_format_checker(manager).checkers)
    for plugin_name, caller in each_plugin("register_departments", manager):
        try:
            caller(register=_Recorder(plugin_name, found, registry, formats))
        except Exception as exc:  # one broken plugin must not hide the others
            log.exception("plugin %s raised in register_departments", plugin_name)
            registry.problems.append(Problem(plugin_name, "?", f"raised {exc!r}"))
    if enabled is not None:
        wanted = list(enabled)
        for slug in wanted:
            if slug not in found:
                registry.problems.append(Problem("config", slug, "not installed"))
        chosen = [found[slug] for slug in wanted if slug in found]
    else:
        chosen = sorted(found.values(), key=lambda d: (d.order, d.name))
    registry.departments = chosen
    registry.owners = {slug: owner for slug, owner in registry.owners.items() if slug in found}
    for problem in registry.problems:
        log.warning(
            "department %s of plugin %s left out: %s",
            problem.department,
            problem.plugin,
            problem.reason,
        )
    return registry


def department_texts(departments: Iterable[Department]) -> dict[str, str]:
    """The texts a department's registration holds, as catalogue keys a city overrides.

    ``<slug>.name``, ``<slug>.description``, ``<slug>.greeting``; per topic with a
    ``key``, ``<slug>.topics.<key>`` (its title) and ``<slug>.topics.<key>.answer``; per
    form field, ``<slug>.forms.<form>.<field>`` (its question).
    """
    found: dict[str, str] = {}
    for department in departments:
        slug = department.slug
        found[f"{slug}.name"] = department.name
        if department.description:
            found[f"{slug}.description"] = department.description
        if department.greeting:
            found[f"{slug}.greeting"] = department.greeting
        for topic in department.topics:
            if topic.key:
                found[f"{slug}.topics.{topic.key}"] = topic.title
                if topic.answer:
                    found[f"{slug}.topics.{topic.key}.answer"] = topic.answer
        for form, schema in department.forms.items():
            for field, spec in schema.get("properties", {}).items():
                if isinstance(spec, dict) and isinstance(spec.get("title"), str):
                    found[f"{slug}.forms.{form}.{field}"] = spec["title"]
    return found


def localise(department: Department, texts: Texts) -> Department:
    """``department`` with the texts of :func:`department_texts` taken from ``texts``
    (the plugin's locale catalogue, then the city's ``[texts]``). Unchanged parts stay
    the same objects."""
    slug = department.slug

    def text(key: str, default: str) -> str:
        found = texts.get(key, default)
        return default if found is None else found

    topics = []
    for topic in department.topics:
        if topic.key:
            base = f"{slug}.topics.{topic.key}"
            answer = texts.get(f"{base}.answer", topic.answer) if topic.answer else None
            changed = attrs.evolve(topic, title=text(base, topic.title), answer=answer)
            topic = topic if changed == topic else changed
        topics.append(topic)
    forms = {}
    for form, schema in department.forms.items():
        properties = dict(schema.get("properties", {}))
        for field, spec in properties.items():
            key = f"{slug}.forms.{form}.{field}"
            if isinstance(spec, dict) and key in texts and texts(key) != spec.get("title"):
                properties[field] = {**spec, "title": texts(key)}
        changed_schema = {**schema, "properties": properties}
        forms[form] = schema if changed_schema == schema else changed_schema
    changed = attrs.evolve(
        department,
        name=text(f"{slug}.name", department.name),
        description=text(f"{slug}.description", department.description),
        greeting=text(f"{slug}.greeting", department.greeting),
        topics=tuple(topics),
        forms=forms,
    )
    return department if changed == department else changed


class _Recorder:
    """The ``register`` callback given to one plugin: validates and records its departments."""

    def __init__(
        self,
        plugin: str,
        found: dict[str, Department],
        registry: Registry,
        formats: frozenset[str],
    ) -> None:
        self.plugin = plugin
        self.found = found
        self.registry = registry
        self.formats = formats

    def __call__(self, department: object) -> None:
        if not isinstance(department, Department):
            self.registry.problems.append(
                Problem(self.plugin, repr(department)[:40], "is not a civic.Department")
            )
            return
        reason = check(department, self.formats)
        if reason is None and department.slug in self.found:
            reason = f"slug already registered by {self.registry.owners[department.slug]}"
        if reason:
            self.registry.problems.append(Problem(self.plugin, department.slug, reason))
            return
        self.found[department.slug] = department
        self.registry.owners[department.slug] = self.plugin


def check(department: Department, formats: frozenset[str] | None = None) -> str | None:
    """Why ``department`` cannot be used (``None`` when it can); ``formats`` are the
    registered format names its forms may use."""
    if not _SLUG.match(department.slug):
        return "slug must be lower-case letters, digits, '-' or '_' (at most 32)"
    if not department.name.strip():
        return "name is empty"
    for topic in department.topics:
        if topic.form and topic.form not in department.forms:
            return f"topic {topic.title!r} names unknown form {topic.form!r}"
    for name, schema in department.forms.items():
        errors = form_errors(schema, formats=formats)
        if errors:
            return f"form {name!r} is not a valid civic form: {errors[0]}"
    return None
