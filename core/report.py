"""Satisfaction reports: the values a report is made of, and how one is built.

A report covers the conversations *opened* between two dates (inclusive days in the
city's time zone), optionally of one department, and may split them into groups (per
department, day, week, month or agent). Every figure is an *indicator* registered by a
plugin through the ``register_report_indicators`` hook; the built-in ones come from
:mod:`civic.default_plugins.scoring`. Indicators are computed from a :class:`ReportQuery`,
a read-only set of aggregates that the database computes, so a report costs a handful of
queries whatever the number of ratings.

Lei 13.460/2017 art. 23 asks every public service to evaluate and publish, at least
yearly, the users' satisfaction, compliance with its deadlines and the number of
manifestations: the built-in indicators give the first from the closing survey, and
the protocols filed (by status) and those answered within their department's declared
deadline (:func:`declared_deadlines`) for the others.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeGuard, TypeVar

import attrs
import pluggy

from civic import redaction
from civic import storage as db
from civic.config import Config, ConfigError
from civic.storage import Storage, Transaction
from civic.values import Department

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

HOOK = "register_report_indicators"
GROUPINGS = db.REPORT_GROUPINGS
NO_DEPARTMENT = db.NO_DEPARTMENT
BOT_AGENT = db.BOT_AGENT


# -- what plugins compute with ------------------------------------------------------


@attrs.frozen
class Aggregate(Generic[T]):
    """One figure for the whole report (``total``) and one per group key (``groups``)."""

    total: T
    groups: Mapping[str, T] = attrs.field(factory=dict)

    def map(self, function: Callable[[T], U]) -> Aggregate[U]:
        """The same figure transformed by ``function``, for the total and each group."""
        return Aggregate(function(self.total), {k: function(v) for k, v in self.groups.items()})


@attrs.frozen
class ScoreCounts:
    """How many ratings gave each score: ``counts[(scale_min, scale_max, score)]``.

    Declined ratings (``score`` NULL) are not counted. Keeping the scale with each score
    lets indicators stay correct when a city changed its scale within the period.
    """

    counts: Mapping[tuple[int, int, int], int] = attrs.field(factory=dict)

    @property
    def rated(self) -> int:
        """The number of scores given."""
        return sum(self.counts.values())

    @property
    def score_sum(self) -> int:
        """The sum of the scores given (mixing scales if the scale changed)."""
        return sum(score * n for (_, _, score), n in self.counts.items())

    def mean(self) -> float | None:
        """The unrounded mean score, or ``None`` when nobody rated."""
        return self.score_sum / self.rated if self.rated else None

    def __add__(self, other: ScoreCounts) -> ScoreCounts:
        merged = dict(self.counts)
        for key, n in other.counts.items():
            merged[key] = merged.get(key, 0) + n
        return ScoreCounts(merged)


@attrs.frozen
class ReportScope:
    """Which conversations a report covers and how it splits them.

    :param since: first day (inclusive) of ``conversation.opened_at``.
    :param until: last day (inclusive).
    :param department: only this department's conversations.
    :param by: one of :data:`GROUPINGS`, or ``None`` for totals only.
    :param timezone: the city's time zone: dates and days are its local ones.
    """

    since: dt.date | None = None
    until: dt.date | None = None
    department: str | None = None
    by: str | None = attrs.field(default=None)
    timezone: str = "UTC"

    @by.validator
    def _check_by(self, _attribute: Any, value: str | None) -> None:
        if value is not None and value not in GROUPINGS:
            raise ValueError(f"unknown grouping {value!r}; expected one of {', '.join(GROUPINGS)}")

    def __attrs_post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")

    def filters(self) -> db.ReportFilter:
        """The conversations the :mod:`civic.storage` report queries cover."""
        return db.ReportFilter(self.since, self.until, self.department, self.timezone)


@attrs.frozen
class SurveyQuestion:
    """One of the city's extra survey questions (``[survey] questions``), as a report
    counts its answers.

    :param key: the answer's name (the form's property).
    :param title: the question, as the citizen read it.
    :param kind: ``number`` (counts per value and the mean), ``choice`` (counts per
        option; the mean too when every option is a number) or ``text`` (free text:
        only how many answered, never what).
    :param options: the answers every report lists, zeros included, as text
        (:func:`answer_text`) with their labels: a choice's options, or each whole
        number of an integer question bounded by ``minimum`` and ``maximum``.
    """

    key: str
    title: str
    kind: str
    options: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def numeric(self) -> bool:
        """Whether answers are numbers, so a mean means something."""
        return self.kind == "number" or (
            self.kind == "choice" and all(_is_number(value) for value in self.options)
        )


#: The statuses of a protocol, in order: :data:`civic.protocols.STATUSES` (a test checks),
#: kept here so a report does not import the team's actions (and the engine with them).
PROTOCOL_STATUSES = ("received", "in_progress", "answered", "closed")
#: The most whole numbers an integer question lists even when nobody gave them.
OPTIONS_LIMIT = 101


def answer_text(value: Any) -> str:
    """An answer as reports and the database's JSON functions write it: ``true`` and
    ``false``, numbers as JSON writes them (``5``, ``4.5``), strings as they are."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _answer(value: Any) -> str:
    """An answer as the database returned it, as :func:`answer_text` writes it (SQLite
    gives ``5.0`` for a JSON ``5.0``, PostgreSQL ``"5.0"``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return json.dumps(value)
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text not in ("nan", "inf", "-inf", "NaN", "Infinity", "-Infinity")


def survey_questions(
    schema: Mapping[str, Any] | None, texts: Any | None = None
) -> tuple[SurveyQuestion, ...]:
    """The questions of a survey form (``[survey] questions``), in the order asked.
    ``texts`` (a :class:`~civic.texts.Texts`) names the yes-or-no options."""
    from civic.texts import Texts

    texts = texts or Texts()
    fields = ((schema or {}).get("properties") or {}).items()
    return tuple(
        _question(str(key), field, texts) for key, field in fields if isinstance(field, Mapping)
    )


def _question(key: str, field: Mapping[str, Any], texts: Any) -> SurveyQuestion:
    """One form property as a :class:`SurveyQuestion`."""
    kind_of = field.get("type")
    kind_of = kind_of[0] if isinstance(kind_of, list) and kind_of else kind_of
    title = str(field.get("title") or key)
    options = _choices(field, texts)
    if options:
        return SurveyQuestion(key, title, "choice", options)
    if kind_of not in ("integer", "number"):
        return SurveyQuestion(key, title, "text")
    low, high = field.get("minimum"), field.get("maximum")
    if kind_of == "integer" and _whole(low) and _whole(high) and 0 <= high - low < OPTIONS_LIMIT:
        options = {str(n): str(n) for n in range(low, high + 1)}
    return SurveyQuestion(key, title, "number", options)


def _whole(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an int (a bool is not one here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _choices(field: Mapping[str, Any], texts: Any) -> dict[str, str]:
    """A choice's options as answer text and label: ``oneOf`` consts, ``enum``, yes/no
    (as :class:`civic.forms.FormRunner` offers them)."""
    one_of = field.get("oneOf")
    if isinstance(one_of, list) and all(isinstance(o, Mapping) and "const" in o for o in one_of):
        return {answer_text(o["const"]): str(o.get("title", o["const"])) for o in one_of}
    if isinstance(field.get("enum"), list):
        return {answer_text(value): str(value) for value in field["enum"]}
    if field.get("type") == "boolean":
        return {"true": texts("form_boolean_yes"), "false": texts("form_boolean_no")}
    return {}


class ReportQuery:
    """The read-only aggregates a report indicator is computed from.

    Plugins receive one in ``ReportIndicator.compute``; they never see the database.
    Every method returns an :class:`Aggregate` over :attr:`group_keys`, is computed by
    the database, and is cached, so several indicators may ask for the same figures.
    """

    def __init__(
        self,
        tx: Transaction,
        scope: ReportScope,
        *,
        deadlines: Mapping[str, int] | None = None,
        today: dt.date | None = None,
        questions: Iterable[SurveyQuestion] = (),
    ) -> None:
        self._tx = tx
        self.scope = scope
        #: The city's extra survey questions (see :func:`survey_questions`).
        self.questions: tuple[SurveyQuestion, ...] = tuple(questions)
        #: Each department's declared answer deadline in days (see :func:`declared_deadlines`).
        self.deadlines: Mapping[str, int] = dict(deadlines or {})
        #: The city's day the report is computed (a deadline not yet over is not missed).
        self.today = today or db.utcnow().astimezone(zoneinfo.ZoneInfo(scope.timezone)).date()
        self._cache: dict[tuple[str, ...], Any] = {}

    def _by(self) -> tuple[str, ...]:
        return (self.scope.by,) if self.scope.by else ()

    def _cached(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]  # type: ignore[no-any-return]  # one cache, values of any T

    def _counts(self) -> tuple[Aggregate[int], Aggregate[int], Aggregate[int]]:
        def compute() -> tuple[Aggregate[int], Aggregate[int], Aggregate[int]]:
            filters = self.scope.filters()
            ((conversations, contacts, abandoned),) = db.report_conversation_counts(
                self._tx, only=filters
            )
            grouped = (
                db.report_conversation_counts(self._tx, by=self._by(), only=filters)
                if self.scope.by
                else []
            )
            return (
                Aggregate(conversations, {str(row[0]): row[1] for row in grouped}),
                Aggregate(contacts, {str(row[0]): row[2] for row in grouped}),
                Aggregate(int(abandoned), {str(row[0]): int(row[3]) for row in grouped}),
            )

        return self._cached(("counts",), compute)

    @property
    def group_keys(self) -> tuple[str, ...]:
        """The groups of the report, sorted (dates sort chronologically); ``()`` if none."""
        return tuple(sorted(self.conversations().groups))

    def conversations(self) -> Aggregate[int]:
        """The number of conversations opened."""
        return self._counts()[0]

    def contacts(self) -> Aggregate[int]:
        """The number of distinct identified citizens (a citizen counts once per group)."""
        return self._counts()[1]

    def abandoned(self) -> Aggregate[int]:
        """The number of conversations closed because the citizen went quiet (expiry)."""
        return self._counts()[2]

    def score_counts(self) -> Aggregate[ScoreCounts]:
        """The scores given, per scale and score (see :class:`ScoreCounts`)."""

        def compute() -> Aggregate[ScoreCounts]:
            rows = db.report_score_counts(self._tx, by=self._by(), only=self.scope.filters())
            groups: dict[str, dict[tuple[int, int, int], int]] = {}
            for *keys, scale_min, scale_max, score, n in rows:
                group = str(keys[0]) if keys else ""
                groups.setdefault(group, {})[(scale_min, scale_max, score)] = n
            counts = {key: ScoreCounts(c) for key, c in groups.items()}
            total = sum(counts.values(), ScoreCounts())
            by_group = {key: counts.get(key, ScoreCounts()) for key in self.group_keys}
            return Aggregate(total, by_group if self.scope.by else {})

        return self._cached(("scores",), compute)

    def answer_counts(self) -> Aggregate[dict[str, dict[str | None, int]]]:
        """How often each answer was given to each of :attr:`questions`:
        ``{question: {answer text: count}}`` (free-text answers all count under
        ``None``; questions nobody answered are absent)."""

        def compute() -> Aggregate[dict[str, dict[str | None, int]]]:
            keys = [question.key for question in self.questions]
            free = [question.key for question in self.questions if question.kind == "text"]
            rows = db.report_answer_counts(
                self._tx, keys, counted_only=free, by=self._by(), only=self.scope.filters()
            )
            groups: dict[str, dict[str, dict[str | None, int]]] = {}
            total: dict[str, dict[str | None, int]] = {}
            for *group, question, answer, n in rows:
                text = None if answer is None else _answer(answer)
                for found in (groups.setdefault(str(group[0]) if group else "", {}), total):
                    counts = found.setdefault(str(question), {})
                    counts[text] = counts.get(text, 0) + int(n)
            by_group = {key: groups.get(key, {}) for key in self.group_keys}
            return Aggregate(total, by_group if self.scope.by else {})

        return self._cached(("answers",), compute)

    def submissions(self) -> Aggregate[int]:
        """The number of forms submitted in the conversations."""

        def compute() -> Aggregate[int]:
            rows = db.report_submission_counts(self._tx, by=self._by(), only=self.scope.filters())
            groups = {str(row[0]): int(row[-1]) for row in rows} if self.scope.by else {}
            total = sum(int(row[-1]) for row in rows)
            return Aggregate(total, {key: groups.get(key, 0) for key in self.group_keys})

        return self._cached(("submissions",), compute)

    def median_seconds(self, end: str) -> Aggregate[float | None]:
        """The median seconds to ``end`` (``"first_response"``/``"closed"``): from the
        opening, or from the hand-over for a conversation handed to the team
        (:mod:`civic.durations`).

        Conversations that have not reached ``end`` are left out; ``None`` when none has.
        """
        if end not in db.DURATION_ENDS:
            raise ValueError(f"unknown end {end!r}; expected one of {', '.join(db.DURATION_ENDS)}")

        def compute() -> Aggregate[float | None]:
            filters = self.scope.filters()
            ((total,),) = db.report_median_seconds(self._tx, end, only=filters) or [(None,)]
            groups: dict[str, float | None] = {}
            if self.scope.by:
                rows = db.report_median_seconds(self._tx, end, by=self._by(), only=filters)
                found = {str(key): value for key, value in rows}
                groups = {key: found.get(key) for key in self.group_keys}
            return Aggregate(total, groups)

        return self._cached(("median", end), compute)

    def protocol_statuses(self) -> Aggregate[dict[str, int]]:
        """Protocols (forms submitted) in the conversations, by current status: every
        status of :data:`PROTOCOL_STATUSES`, zeros included."""

        def compute() -> Aggregate[dict[str, int]]:
            rows = db.report_protocol_counts(self._tx, by=self._by(), only=self.scope.filters())
            groups: dict[str, dict[str, int]] = {}
            for *keys, status, n in rows:
                group = str(keys[0]) if keys else ""
                groups.setdefault(group, {})[str(status)] = int(n)

            def counts(found: Mapping[str, int]) -> dict[str, int]:
                return {s: found.get(s, 0) for s in PROTOCOL_STATUSES} | {
                    s: n for s, n in sorted(found.items()) if s not in PROTOCOL_STATUSES
                }

            total: dict[str, int] = {}
            for found in groups.values():
                for status, n in found.items():
                    total[status] = total.get(status, 0) + n
            by_group = {key: counts(groups.get(key, {})) for key in self.group_keys}
            return Aggregate(counts(total), by_group if self.scope.by else {})

        return self._cached(("protocols",), compute)

    def deadline_counts(self) -> Aggregate[tuple[int, int]]:
        """``(due, met)``: protocols of departments with a declared deadline that were
        answered or whose deadline is over (*due*), and those whose first answer came
        on or before the deadline's last day (*met*). The deadline runs in the city's
        days from the day after filing, the last day included (Lei 9.784/1999 art. 66:
        the first day is excluded, the last included); a deadline ending on a holiday
        is not moved to the next working day."""

        def compute() -> Aggregate[tuple[int, int]]:
            filters = self.scope.filters()
            ((due, met),) = db.report_deadline_counts(
                self._tx, self.deadlines, self.today, only=filters
            )
            groups: dict[str, tuple[int, int]] = {}
            if self.scope.by:
                rows = db.report_deadline_counts(
                    self._tx, self.deadlines, self.today, by=self._by(), only=filters
                )
                found = {str(key): (int(d), int(m)) for key, d, m in rows}
                groups = {key: found.get(key, (0, 0)) for key in self.group_keys}
            return Aggregate((int(due), int(met)), groups)

        return self._cached(("deadlines",), compute)


# -- indicator definitions ----------------------------------------------------------

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@attrs.frozen
class ReportIndicator:
    """A named figure a plugin adds to every report.

    :param name: a ``snake_case`` identifier, unique across plugins (the JSON key).
    :param label: the Portuguese label shown on the published page.
    :param compute: called once per report with the :class:`ReportQuery`; returns an
        :class:`Aggregate` of JSON-compatible values (numbers, strings, ``None``, or a
        mapping of them) for the total and for every group key.
    :param description: one sentence saying what the figure means.
    """

    name: str = attrs.field()
    label: str
    compute: Callable[[ReportQuery], Aggregate[Any]] = attrs.field(repr=False)
    description: str = ""

    @name.validator
    def _check_name(self, _attribute: Any, value: str) -> None:
        if not _NAME.match(value):
            raise ValueError(f"indicator name {value!r} is not snake_case")


def collect_indicators(manager: pluggy.PluginManager) -> list[tuple[str, ReportIndicator]]:
    """Every indicator plugins register, with the registering plugin's name.

    A name registered twice keeps the first registration (default plugins register
    first); the clash is logged with both plugins' names.
    """
    hook = getattr(manager.hook, HOOK)
    implementers = {impl.plugin_name for impl in hook.get_hookimpls()}
    everyone = manager.list_name_plugin()  # registration order: defaults first
    found: dict[str, tuple[str, ReportIndicator]] = {}
    for plugin_name, plugin in everyone:
        if plugin_name not in implementers:
            continue
        pending: list[ReportIndicator] = []

        def register(indicator: ReportIndicator, pending: list[ReportIndicator] = pending) -> None:
            if not isinstance(indicator, ReportIndicator):
                raise TypeError(f"register() expects a ReportIndicator, got {indicator!r}")
            pending.append(indicator)

        own = manager.subset_hook_caller(
            HOOK, remove_plugins=[other for _, other in everyone if other is not plugin]
        )
        try:
            own(register=register)
        except Exception as exc:  # a plugin that fails half-way contributes nothing
            log.error(
                "plugin %s raised in hook %s: %s",
                plugin_name,
                HOOK,
                type(exc).__name__,
                exc_info=exc,
            )
            continue
        for indicator in pending:
            if indicator.name in found:
                log.error(
                    "indicator %r of plugin %s is already registered by plugin %s; ignored",
                    indicator.name,
                    plugin_name,
                    found[indicator.name][0],
                )
                continue
            found[indicator.name] = (plugin_name, indicator)
    return list(found.values())


# -- the report ---------------------------------------------------------------------


@attrs.frozen
class Indicators:
    """The figures of one group (or of the whole report).

    The built-in fields are ``None`` when the plugin computing them is blocked; figures of
    other plugins are in ``extra``, by indicator name. Percentages are 0–100.
    """

    contacts: int | None = None
    conversations: int | None = None
    abandoned: int | None = None
    rated: int | None = None
    response_rate_percent: float | None = None
    mean_score: float | None = None
    score_percent: float | None = None
    nps: float | None = None
    csat_percent: float | None = None
    distribution: Mapping[str, int] | None = None
    questions: Mapping[str, Mapping[str, Any]] | None = None
    median_first_response_seconds: float | None = None
    median_resolution_seconds: float | None = None
    protocols: Mapping[str, int] | None = None
    deadline_due: int | None = None
    deadline_met: int | None = None
    deadline_met_percent: float | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Indicators:
        """Built from ``{indicator name: value}``; unknown names go to ``extra``."""
        builtin = BUILTIN_INDICATORS
        return cls(
            **{name: value for name, value in values.items() if name in builtin},
            extra={name: value for name, value in values.items() if name not in builtin},
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as in the JSON output."""
        return attrs.asdict(self, recurse=False) | {
            "distribution": dict(self.distribution) if self.distribution is not None else None,
            "protocols": dict(self.protocols) if self.protocols is not None else None,
            "questions": (
                {key: dict(figures) for key, figures in self.questions.items()}
                if self.questions is not None
                else None
            ),
            "extra": dict(self.extra),
        }


BUILTIN_INDICATORS = tuple(f.name for f in attrs.fields(Indicators) if f.name != "extra")


@attrs.frozen
class Group:
    """One group of a report: its key (``procon``, ``2021-03-16``, ``(bot)``...)."""

    key: str
    indicators: Indicators


@attrs.frozen
class DepartmentInfo:
    """A department as a report shows it: its name, and its declared answer deadline."""

    name: str
    deadline_days: int | None = None


@attrs.frozen
class Report:
    """A computed report: the scope, the totals, the groups and the indicators' labels,
    the installed departments by slug (names for the published page), and the city's
    extra survey questions (their answers are the ``questions`` indicator)."""

    scope: ReportScope
    generated_at: dt.datetime
    total: Indicators
    groups: tuple[Group, ...] = ()
    labels: Mapping[str, str] = attrs.field(factory=dict)
    descriptions: Mapping[str, str] = attrs.field(factory=dict)
    departments: Mapping[str, DepartmentInfo] = attrs.field(factory=dict)
    questions: tuple[SurveyQuestion, ...] = ()

    def department_name(self, slug: str | None) -> str:
        """The name citizens know a department by; its slug when it is not installed."""
        if slug is None or slug == NO_DEPARTMENT:
            return "Sem departamento"
        found = self.departments.get(slug)
        return found.name if found else slug


#: The longest answer deadline a city may declare, in days (ten years).
DEADLINE_LIMIT = 3650


def declared_deadlines(departments: Iterable[Department], config: Config) -> dict[str, int]:
    """Each department's answer deadline in days, by slug: the city's
    ``[departments.<slug>] deadline_days`` in ``civic.toml``, else the department's own
    :attr:`~civic.values.Department.deadline_days`. Departments without one are left out.

    Lei 13.460/2017 art. 23 asks services to publish how far they keep their deadlines;
    art. 16 gives an ombudsman 30 days, extendable once. Raises :class:`ConfigError`
    for a value that is not a whole number of days from 1 to :data:`DEADLINE_LIMIT`.
    """
    found: dict[str, int] = {}
    problems = []
    for department in departments:
        settings = config.department_settings.get(department.slug)
        value: Any = department.deadline_days
        where = f"department {department.slug!r} (deadline_days)"
        if settings is not None and "deadline_days" in settings.settings:
            value = settings.settings["deadline_days"]
            where = f"{config.source or 'civic.toml'}: departments.{department.slug}.deadline_days"
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: {value!r} is not a whole number of days")
        elif not 1 <= value <= DEADLINE_LIMIT:
            problems.append(f"{where}: {value} is not between 1 and {DEADLINE_LIMIT} days")
        else:
            found[department.slug] = value
    if problems:
        raise ConfigError(problems)
    return found


def build_report(
    storage: Storage,
    scope: ReportScope,
    *,
    manager: pluggy.PluginManager | None = None,
    now: dt.datetime | None = None,
    config: Config | None = None,
    installed: Iterable[Department] | None = None,
) -> Report:
    """Compute every registered indicator over ``scope``, in one read transaction.

    The departments (their names, their deadlines) are those the plugins of ``manager``
    register, or ``installed`` when the caller has collected them already
    (:func:`civic.departments.collect`); ``config`` is the city's (its deadlines override
    the departments').
    An indicator whose ``compute`` raises or returns something other than an
    :class:`Aggregate` is logged with its plugin's name and left out.
    """
    from civic import departments as registry

    if manager is None:
        from civic.plugins import load_plugins

        manager = load_plugins()
    indicators = collect_indicators(manager)
    installed = list(registry.collect(manager) if installed is None else installed)
    config = config or Config()
    deadlines = declared_deadlines(installed, config)
    questions = survey_questions(config.survey.questions, _texts(config))
    generated_at = now or db.utcnow()
    today = generated_at.astimezone(zoneinfo.ZoneInfo(scope.timezone)).date()
    results: dict[str, Aggregate[Any]] = {}
    with storage.reading() as tx:
        query = ReportQuery(tx, scope, deadlines=deadlines, today=today, questions=questions)
        keys = query.group_keys
        for plugin, indicator in indicators:
            try:
                result = indicator.compute(query)
                if not isinstance(result, Aggregate):
                    raise TypeError(f"compute() returned {type(result).__name__}, not Aggregate")
            except Exception as exc:
                name = indicator.name
                log.error(
                    "indicator %r of plugin %s failed: %s",
                    name,
                    plugin,
                    type(exc).__name__,
                    exc_info=exc,
                )
                continue
            results[indicator.name] = result
    total = Indicators.from_values({name: agg.total for name, agg in results.items()})
    groups = tuple(
        Group(key, Indicators.from_values({n: a.groups.get(key) for n, a in results.items()}))
        for key in keys
    )
    return Report(
        scope=scope,
        generated_at=generated_at,
        total=total,
        groups=groups,
        labels={i.name: i.label for _, i in indicators if i.name in results},
        descriptions={i.name: i.description for _, i in indicators if i.name in results},
        departments={
            d.slug: DepartmentInfo(d.name, deadlines.get(d.slug))
            for d in sorted(installed, key=lambda d: d.slug)
        },
        questions=questions,
    )


def _texts(config: Config) -> Any:
    """The city's texts (the yes-or-no options' names), its overrides included."""
    from civic.texts import Texts

    return Texts(config.locale, config.texts)


# -- time series for the published page ---------------------------------------------


@attrs.frozen
class Timeline:
    """Figures over time for the charts of the HTML page.

    :param period: ``day``, ``week`` or ``month`` (chosen from the span of the report).
    :param contacts: distinct citizens per period.
    :param mean_by_department: the mean score per department, per period.
    """

    period: str
    contacts: Mapping[str, int]
    mean_by_department: Mapping[str, Mapping[str, float]]


def build_timeline(storage: Storage, scope: ReportScope, *, period: str | None = None) -> Timeline:
    """The figures per period of ``scope`` (grouping ignored): days up to 62 days, weeks
    up to about a year, months beyond."""
    filters = scope.filters()
    with storage.reading() as tx:
        if period is None:
            first, last = db.report_opened_range(tx, department=scope.department)
            start = scope.since or (first.date() if first else None)
            end = scope.until or (last.date() if last else None)
            span = (end - start).days if start and end else 0
            period = "day" if span <= 62 else "week" if span <= 380 else "month"
        counts = db.report_conversation_counts(tx, by=(period,), only=filters)
        scores = db.report_score_counts(tx, by=("department", period), only=filters)
    by_department: dict[str, dict[str, ScoreCounts]] = {}
    for department, key, scale_min, scale_max, score, n in scores:
        cells = by_department.setdefault(str(department), {})
        cells[str(key)] = cells.get(str(key), ScoreCounts()) + ScoreCounts(
            {(scale_min, scale_max, score): n}
        )
    return Timeline(
        period=period,
        contacts={str(row[0]): row[2] for row in sorted(counts)},
        mean_by_department={
            department: {key: c.mean() or 0.0 for key, c in sorted(cells.items())}
            for department, cells in sorted(by_department.items())
        },
    )


# -- the citizens' words for the published page ---------------------------------------

#: The longest comment the published page shows (longer ones are cut, with "…").
COMMENT_LIMIT = 500


@attrs.frozen
class Comment:
    """A closing-survey comment as published: CPFs and phone numbers masked."""

    at: dt.datetime
    department: str | None
    text: str


def latest_comments(storage: Storage, scope: ReportScope, *, limit: int = 10) -> list[Comment]:
    """The latest ``limit`` survey comments of the conversations ``scope`` covers, newest
    first, with every CPF-looking number and phone number masked
    (:func:`civic.redaction.redact_line`), each at most :data:`COMMENT_LIMIT` characters.
    """
    with storage.reading() as tx:
        rows = db.report_comments(tx, only=scope.filters(), limit=limit)
    comments = []
    for at, department, text in rows:
        masked = " ".join(redaction.redact_line(text).split())
        if len(masked) > COMMENT_LIMIT:
            masked = masked[: COMMENT_LIMIT - 1].rstrip() + "…"
        comments.append(Comment(at, department, masked))
    return comments
