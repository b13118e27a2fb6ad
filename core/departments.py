"""Collecting the departments plugins register, and checking them.

The values themselves check their fields when built (:mod:`civic.values`); here civic
checks what needs the plugin or the other departments, and records each problem with
the plugin that caused it:

- **errors** leave the department out (the second of two that clash): a slug, a name or
  a protocol prefix already taken; a name that is another department's slug; a topic
  naming an unknown form, two topics with one ``key``, a topic with nothing to do whose
  plugin has no ``department_message``; ``form_warnings`` for an unknown form or field;
  a form that is not a valid civic form; a value that is not a Department, or one whose
  construction raised (then the plugin's departments registered after it are missing
  too);
- **warnings** leave it in: two departments routed by the same subject word (a message
  with it may tie, and civic asks which), or a department whose keywords never route to
  it alone (``civic plugins check`` only: finding it routes every keyword);
- **notes**: two departments sharing a :data:`~civic.default_plugins.routing.GENERIC`
  word ("reclamar", "agendar"), which decides only when no subject word did.

No keyword overlap is an error: a department is always reached by its menu number and
by its name. Warnings are logged when the departments are collected (at start-up), each
once per process; ``civic plugins check`` prints all three kinds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

import attrs
import pluggy

from civic.forms import build_format_checker, form_errors
from civic.plugins import each_plugin
from civic.text import fold
from civic.texts import Texts
from civic.values import SLUG, ContractError, Department

log = logging.getLogger(__name__)

#: How bad a :class:`Problem` is, worst first.
SEVERITIES = ("error", "warning", "note")


@attrs.frozen
class Problem:
    """Something wrong with a plugin's department.

    :param plugin: the plugin that registered it (``config`` for the city's list).
    :param department: its slug (``?`` when it could not be built).
    :param reason: why, in a sentence.
    :param what: the field concerned (``keywords``, ``protocol_prefix``, ``topics``...),
        or ``plugin`` for a plugin that cannot be loaded; empty when unknown.
    :param severity: ``error`` (the department was left out), ``warning`` or ``note``.
    """

    plugin: str
    department: str
    reason: str
    what: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        what = f"{self.what}: " if self.what else ""
        return (
            f"{self.severity}: plugin {self.plugin}, department {self.department}: "
            f"{what}{self.reason}"
        )


@attrs.define
class Registry:
    """The enabled departments in menu order, who registered each, what was left out
    (``problems``, errors) and what is only suspicious (``warnings``, warnings and
    notes)."""

    departments: list[Department] = attrs.field(factory=list)
    owners: dict[str, str] = attrs.field(factory=dict)
    problems: list[Problem] = attrs.field(factory=list)
    warnings: list[Problem] = attrs.field(factory=list)

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
        answers = _answers_itself(manager, plugin_name)
        try:
            caller(register=_Recorder(plugin_name, found, registry, formats, answers))
        except ContractError as exc:  # a value the plugin built breaks the contract
            slug = exc.name if exc.kind == "Department" and exc.name else "?"
            registry.problems.append(
                Problem(
                    plugin_name,
                    slug,
                    f"{exc} (raised in register_departments, so "
                    "the plugin's departments after it are missing too)",
                    exc.field,
                )
            )
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
    registry.warnings = routing_problems(chosen, registry.owners)
    for problem in registry.problems:
        log.warning(
            "department %s of plugin %s left out: %s",
            problem.department,
            problem.plugin,
            problem.reason,
        )
    for problem in registry.warnings:
        _log_once(problem)
    return registry


def enabled_problems(
    enabled: Iterable[str] | None, registry: Registry, source: str = "civic.toml"
) -> list[str]:
    """Why the city's ``enabled`` list would leave citizens unserved, as ``file:
    enabled: reason`` lines (``[]`` when it is fine, or absent).

    A slug that names no installed department is refused rather than skipped (a typo
    would silently send that department's citizens to the menu), and so is a list that
    enables nothing (``enabled = []``, or only departments that could not be loaded):
    every citizen would then wait in a queue nobody serves. ``civic serve``, ``civic
    run`` and ``civic config check`` stop on these (see :func:`civic.engine.check_settings`).
    """
    if enabled is None:
        return []
    wanted = list(enabled)
    installed = ", ".join(sorted(registry.owners)) or "none"
    problems = [
        f"{source}: enabled: department {slug!r} is not installed (installed: {installed})"
        for slug in wanted
        if slug not in registry.owners
    ]
    if not wanted:
        problems.append(
            f"{source}: enabled: the list is empty, so no department would answer citizens "
            f"(installed: {installed}); list the departments, or remove the key to enable "
            "every installed one"
        )
    elif not registry.departments and not problems:
        problems.append(
            f"{source}: enabled: none of the enabled departments could be loaded (see the "
            "errors above), so no department would answer citizens"
        )
    return problems


_LOGGED: set[Problem] = set()


def _log_once(problem: Problem) -> None:
    """Log a warning (or, at INFO, a note) the first time this process meets it."""
    if problem in _LOGGED:
        return
    _LOGGED.add(problem)
    level = logging.WARNING if problem.severity == "warning" else logging.INFO
    log.log(level, "%s", problem)


def _answers_itself(manager: pluggy.PluginManager, plugin_name: str) -> bool:
    """Whether the plugin implements ``department_message`` (so it may answer topics that
    declare no action)."""
    plugin = manager.get_plugin(plugin_name)
    callers = manager.get_hookcallers(plugin) if plugin is not None else None
    return any(caller.name == "department_message" for caller in callers or [])


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

    def required(key: str, default: str) -> str:
        """A name or title: a blank override keeps the registered text."""
        found = text(key, default)
        return found if found.strip() else default

    topics = []
    for topic in department.topics:
        if topic.key:
            base = f"{slug}.topics.{topic.key}"
            answer = texts.get(f"{base}.answer", topic.answer) if topic.answer else None
            answer = answer if answer and answer.strip() else topic.answer
            localised = attrs.evolve(topic, title=required(base, topic.title), answer=answer)
            topic = topic if localised == topic else localised
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
        name=required(f"{slug}.name", department.name),
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
        answers_itself: bool = True,
    ) -> None:
        self.plugin = plugin
        self.found = found
        self.registry = registry
        self.formats = formats
        self.answers_itself = answers_itself

    def __call__(self, department: object) -> None:
        if not isinstance(department, Department):
            self.registry.problems.append(
                Problem(self.plugin, repr(department)[:40], "is not a civic.Department")
            )
            return
        found = problems(department, self.formats, answers_itself=self.answers_itself)
        if not found:
            found = self.clashes(department)
        if found:
            what, reason = found[0]
            self.registry.problems.append(Problem(self.plugin, department.slug, reason, what))
            return
        self.found[department.slug] = department
        self.registry.owners[department.slug] = self.plugin

    def clashes(self, department: Department) -> list[tuple[str, str]]:
        """What ``department`` takes that an earlier department already has."""
        found = []
        names = {fold(department.slug), fold(department.name)}
        for other in self.found.values():
            owner = f"department {other.slug!r} of plugin {self.registry.owners[other.slug]}"
            if other.slug == department.slug:
                found.append(
                    ("slug", f"slug already registered by {self.registry.owners[other.slug]}")
                )
            elif names & {fold(other.slug), fold(other.name)}:
                found.append(
                    ("name", f"name {department.name!r} (or slug) is already the name or "
                     f"slug of {owner}: the citizen could not choose it by name")
                )  # fmt: skip
            elif other.prefix == department.prefix:
                found.append(
                    ("protocol_prefix", f"protocol prefix {department.prefix!r} is already "
                     f"used by {owner}: protocol numbers would be shared")
                )  # fmt: skip
        return found


def check(department: Department, formats: frozenset[str] | None = None) -> str | None:
    """Why ``department`` cannot be used (``None`` when it can); ``formats`` are the
    registered format names its forms may use."""
    found = problems(department, formats)
    return found[0][1] if found else None


def problems(
    department: Department, formats: frozenset[str] | None = None, *, answers_itself: bool = True
) -> list[tuple[str, str]]:
    """What is wrong with ``department`` on its own, as ``(field, reason)``; ``formats``
    are the registered format names its forms may use; ``answers_itself`` whether its
    plugin implements ``department_message``."""
    found: list[tuple[str, str]] = []
    if not isinstance(department.slug, str) or not SLUG.fullmatch(department.slug):
        found.append(("slug", "slug must be lower-case letters, digits, '-' or '_' (at most 32)"))
    if not department.name.strip():
        found.append(("name", "name is empty"))
    keys: set[str] = set()
    for topic in department.topics:
        for form in (topic.form, topic.then_form):
            if form and form not in department.forms:
                found.append(("topics", f"topic {topic.title!r} names unknown form {form!r}"))
        if topic.key is not None:
            if topic.key in keys:
                found.append(("topics", f"two topics have the key {topic.key!r}"))
            keys.add(topic.key)
        if topic.action is None and not answers_itself:
            found.append(
                ("topics", f"topic {topic.title!r} has no answer, form or handover, and the "
                 "plugin has no department_message hook to answer it")
            )  # fmt: skip
    for form, fields in department.form_warnings.items():
        schema = department.forms.get(form)
        if schema is None:
            found.append(("form_warnings", f"form_warnings names unknown form {form!r}"))
            continue
        properties = schema.get("properties", {})
        for field in fields:
            if field not in properties:
                found.append(
                    ("form_warnings", f"form_warnings names unknown field {field!r} of "
                     f"form {form!r}")
                )  # fmt: skip
    for name, schema in department.forms.items():
        errors = form_errors(schema, formats=formats)
        if errors:
            found.append(("forms", f"form {name!r} is not a valid civic form: {errors[0]}"))
    return found


# -- routing: words shared between departments ----------------------------------------


def routing_problems(
    departments: Sequence[Department], owners: dict[str, str], *, explain: bool = False
) -> list[Problem]:
    """Warnings and notes about how ``departments`` share routing words (see the module
    docstring), from the built-in routing's own words and points.

    With ``explain`` (``civic plugins check``), each shared word says where it alone
    goes, by the built-in routing's own decision, and a department none of whose
    keywords routes to it alone is a warning; both route messages, so the engine's
    start-up leaves them out.
    """
    from civic.default_plugins import routing
    from civic.reading import read

    vocabulary = {d.slug: routing.words(d) for d in departments}

    def decided(word: str) -> str:
        if not explain:
            return repr(word)
        result = routing.route_message(departments=departments, message=read(word))
        if isinstance(result, tuple):
            return f"{word!r} alone ties (civic asks which)"
        return f"{word!r} alone goes to {result}" if result else f"{word!r} alone goes nowhere"

    found: list[Problem] = []
    for number, first in enumerate(departments):
        for second in departments[number + 1 :]:
            shared = sorted(vocabulary[first.slug].keys() & vocabulary[second.slug].keys())
            for generic in (False, True):
                words = [w for w in shared if (w in routing.GENERIC) == generic]
                if not words:
                    continue
                kind = "generic words" if generic else "subject words"
                found.append(
                    Problem(
                        owners.get(second.slug, "?"),
                        second.slug,
                        f"shares {kind} with department {first.slug!r} (plugin "
                        f"{owners.get(first.slug, '?')}): {'; '.join(map(decided, words))}",
                        "keywords",
                        "note" if generic else "warning",
                    )
                )
    if explain:
        found += [
            Problem(
                owners.get(department.slug, "?"),
                department.slug,
                "none of its keywords routes to it alone (other departments score as much "
                "or more): the citizen reaches it only by its menu number or name",
                "keywords",
                "warning",
            )
            for department in departments
            if _shadowed(department, departments, vocabulary)
        ]
    return found


def _shadowed(
    department: Department, departments: Sequence[Department], vocabulary: dict[str, dict[str, int]]
) -> bool:
    """Whether ``department`` has keywords and none of them, alone, routes to it."""
    from civic.default_plugins import routing
    from civic.reading import read

    names = {fold(department.slug), fold(department.name)}
    own = [word for word in vocabulary[department.slug] if word not in names]
    others = set().union(*(v for s, v in vocabulary.items() if s != department.slug))
    # Words no other department has first: one of them nearly always wins alone.
    ordered = sorted(own, key=lambda word: (word in others, word in routing.GENERIC, word))
    return bool(own) and not any(
        routing.route_message(departments=departments, message=read(word)) == department.slug
        for word in ordered
    )
