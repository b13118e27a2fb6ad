"""The city's configuration: ``civic.toml``, validated, with defaults that work out of the box.

The file is found through ``--config`` or ``CIVIC_CONFIG``; without one, the built-in
defaults apply (every installed department enabled, the 0–10 survey, no opening hours,
meaning the team is always reachable). ``schemas/config.schema.json`` defines the file;
``examples/civic.toml`` is a complete example.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from civic.texts import Texts, override_problems

CONFIG_ENV = "CIVIC_CONFIG"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: The keys of a ``[departments.<slug>]`` section the core reads itself (checked by
#: ``schemas/config.schema.json`` and the reports); every other key is the department
#: plugin's, checked against its :attr:`~civic.values.Department.settings_schema`.
CORE_DEPARTMENT_KEYS = ("contacts", "deadline_days", "hours", "keywords", "retention")


class ConfigError(ValueError):
    """The configuration is not valid; ``problems`` lists each as "file: key: reason"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@attrs.frozen
class SurveyConfig:
    """The closing survey: the scale, how often a refused answer is asked again, and
    extra questions (a JSON-Schema form asked after the score)."""

    scale_min: int = 0
    scale_max: int = 10
    max_attempts: int = 3
    questions: Mapping[str, Any] | None = None


@attrs.frozen
class Hours:
    """When the human team answers: intervals per weekday and holidays, in a time zone."""

    timezone: str = "America/Sao_Paulo"
    week: Mapping[str, tuple[tuple[dt.time, dt.time], ...]] = attrs.field(factory=dict)
    holidays: frozenset[dt.date] = frozenset()

    @property
    def always_open(self) -> bool:
        return not self.week

    def is_open(self, moment: dt.datetime) -> bool:
        """Whether the team answers at ``moment`` (an aware datetime)."""
        if self.always_open:
            return True
        local = moment.astimezone(zoneinfo.ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        return any(
            start <= local.time() < end
            for start, end in self.week.get(WEEKDAYS[local.weekday()], ())
        )

    def next_opening(self, moment: dt.datetime) -> dt.datetime | None:
        """The next time the team answers, in the city's time zone (``None``: never)."""
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        for offset in range(0, 15):
            day = local.date() + dt.timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _end in self.week.get(WEEKDAYS[day.weekday()], ()):
                candidate = dt.datetime.combine(day, start, tzinfo=zone)
                if candidate > local:
                    return candidate
        return None

    def describe(self, texts: Texts | None = None) -> str:
        """The opening hours as Brazilians write them: ``de segunda a sexta, das 8h às
        12h e das 13h às 17h`` (see :mod:`civic.when`), in ``texts``' words."""
        from civic.when import describe_week

        return describe_week(self.week, texts or Texts())


@attrs.frozen
class PrivacyConfig:
    """The privacy notice's facts; empty ones fall back to honest defaults."""

    controller: str = ""
    purpose: str = ""
    contact: str = ""
    policy_url: str = ""
    #: Where the record of processing operations is published (LGPD art. 37); the
    #: notice links to it when set.
    register_url: str = ""


#: The kinds of personal data a retention period applies to, in the order reported.
RETENTION_KINDS = ("messages", "submissions", "ratings")


@attrs.frozen
class RetentionPeriods:
    """Days after which each kind of data is anonymised (LGPD art. 16: personal data is
    eliminated when its processing ends, unless a law requires keeping it); ``None``
    keeps it. ``messages``: message texts, the citizen's phone and name in the
    conversation, the channel's raw deliveries, counted from the conversation's close;
    ``submissions``: form answers (the protocol's number, department, status and dates
    stay), from the protocol's last change; ``ratings``: the survey comment (the score
    stays), from the rating."""

    messages: int | None = None
    submissions: int | None = None
    ratings: int | None = None

    def days(self, kind: str) -> int | None:
        """The period of ``kind`` (one of :data:`RETENTION_KINDS`)."""
        value: int | None = getattr(self, kind)
        return value

    def over(self, base: RetentionPeriods) -> RetentionPeriods:
        """These periods, each one left unset taken from ``base``."""
        return RetentionPeriods(
            *(self.days(kind) if self.days(kind) is not None else base.days(kind)
              for kind in RETENTION_KINDS)
        )  # fmt: skip


@attrs.frozen
class RetentionConfig:
    """``[retention]``: the city's periods, each department's overrides
    (``[departments.<slug>.retention]``) and whether ``civic serve`` purges daily."""

    city: RetentionPeriods = attrs.field(factory=RetentionPeriods)
    departments: Mapping[str, RetentionPeriods] = attrs.field(factory=dict)
    daily: bool = True

    def periods(self, department: str | None) -> RetentionPeriods:
        """The periods of ``department`` (``None``: a conversation that reached none)."""
        own = self.departments.get(department or "")
        return own.over(self.city) if own is not None else self.city

    @property
    def configured(self) -> bool:
        """Whether any period is set (without one, a purge has nothing to do)."""
        every = [self.city, *self.departments.values()]
        return any(p.days(kind) is not None for p in every for kind in RETENTION_KINDS)


@attrs.frozen
class ExpiryConfig:
    """How long a quiet conversation stays open; ``team_after=None`` never expires one
    waiting for or with the team."""

    after: dt.timedelta = dt.timedelta(hours=24)
    survey_after: dt.timedelta = dt.timedelta(hours=2)
    team_after: dt.timedelta | None = None
    notice: bool = True


@attrs.frozen
class LimitsConfig:
    """How much one sender may send (see :mod:`civic.rate_limit`); ``0`` turns a limit
    off. ``webchat_per_ip_per_minute`` is counted by each worker of ``civic serve``."""

    messages_per_minute: int = 30
    webchat_per_ip_per_minute: int = 120


@attrs.frozen
class DepartmentConfig:
    """A department's own settings: contacts, hours, and anything its plugin reads."""

    contacts: Mapping[str, str] = attrs.field(factory=dict)
    hours: Hours | None = None
    settings: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Config:
    """Everything a city can set. ``departments=None`` enables every installed one."""

    city: str = "Casa do Cidadão"
    locale: str = "pt-BR"
    departments: tuple[str, ...] | None = None
    texts: Mapping[str, Any] = attrs.field(factory=dict)
    survey: SurveyConfig = attrs.field(factory=SurveyConfig)
    form_max_failures: int = 3
    hours: Hours = attrs.field(factory=Hours)
    department_settings: Mapping[str, DepartmentConfig] = attrs.field(factory=dict)
    source: str | None = None
    identify: str = "first"
    privacy: PrivacyConfig = attrs.field(factory=PrivacyConfig)
    expiry: ExpiryConfig = attrs.field(factory=ExpiryConfig)
    retention: RetentionConfig = attrs.field(factory=RetentionConfig)
    limits: LimitsConfig = attrs.field(factory=LimitsConfig)
    #: WhatsApp: ``phone_number_id`` → department slug; the template sent outside the
    #: 24-hour window, and its language.
    whatsapp_numbers: Mapping[str, str] = attrs.field(factory=dict)
    whatsapp_template: str | None = None
    whatsapp_language: str = "pt_BR"

    def for_department(self, slug: str | None) -> DepartmentConfig:
        """A department's settings; ``hours`` are its own or else the city's, so a plugin
        always knows the city's time zone (``settings.hours.timezone``)."""
        own = self.department_settings.get(slug or "", DepartmentConfig())
        return own if own.hours is not None else attrs.evolve(own, hours=self.hours)

    def hours_of(self, slug: str | None) -> Hours:
        return self.for_department(slug).hours or self.hours


# -- reading --------------------------------------------------------------------------


@cache
def config_schema() -> dict[str, Any]:
    """``schemas/config.schema.json``."""
    source = resources.files("civic.schemas").joinpath("config.schema.json")
    schema: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return schema


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file to read: ``explicit``, else ``CIVIC_CONFIG``, else none."""
    value = explicit or os.environ.get(CONFIG_ENV)
    return Path(value) if value else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the configuration; the defaults when there is no file.

    Raises :class:`ConfigError` listing every problem as ``file: key: reason``.
    """
    found = config_path(path)
    if found is None:
        return Config()
    name = str(found)
    from civic import files

    try:
        raw = tomllib.loads(files.read_text(found, files.CONFIG_LIMIT))
    except FileNotFoundError:
        raise ConfigError([f"{name}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{name}: not valid TOML: {exc}"]) from None
    return parse_config(raw, source=name)


def config_problems(raw: Mapping[str, Any], source: str = "civic.toml") -> list[str]:
    """Every problem of a parsed configuration, as ``file: key: reason`` lines."""
    import jsonschema  # here, not at the top: `civic --help` never validates a file

    validator = jsonschema.Draft202012Validator(config_schema())
    problems = []
    for error in sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path)):
        key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"{source}: {key}: {error.message}")
    if problems:
        return problems
    if raw.get("timezone"):
        try:
            zoneinfo.ZoneInfo(raw["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(f"{source}: timezone: unknown time zone {raw['timezone']!r}")
    problems += [
        f"{source}: texts.{problem}"
        for problem in override_problems(raw.get("texts", {}), raw.get("locale", "pt-BR"))
    ]
    questions = raw.get("survey", {}).get("questions")
    if questions is not None:
        from civic.forms import form_errors

        problems += [f"{source}: survey.questions: {error}" for error in form_errors(questions)]
    for key, hours in _hours_sections(raw):
        problems += [f"{source}: {key}.{where}: {why}" for where, why in _interval_problems(hours)]
    return problems


def parse_config(raw: Mapping[str, Any], source: str = "civic.toml") -> Config:
    """Build a :class:`Config` from parsed TOML, or raise :class:`ConfigError`."""
    problems = config_problems(raw, source)
    if problems:
        raise ConfigError(problems)
    timezone = raw.get("timezone", "America/Sao_Paulo")
    survey = raw.get("survey", {})
    low, high = (0, 10) if survey.get("scale", "0-10") == "0-10" else (1, 5)
    defaults = Config()
    return Config(
        city=raw.get("city", defaults.city),
        locale=raw.get("locale", defaults.locale),
        departments=tuple(raw["enabled"]) if "enabled" in raw else None,
        texts=dict(raw.get("texts", {})),
        survey=SurveyConfig(
            scale_min=low,
            scale_max=high,
            max_attempts=survey.get("max_attempts", 3),
            questions=survey.get("questions"),
        ),
        form_max_failures=raw.get("forms", {}).get("max_failures", 3),
        hours=_hours(raw.get("hours"), timezone),
        department_settings={
            slug: DepartmentConfig(
                contacts=dict(section.get("contacts", {})),
                hours=_hours(section["hours"], timezone) if "hours" in section else None,
                settings={
                    k: v for k, v in section.items() if k not in ("contacts", "hours", "retention")
                },
            )
            for slug, section in raw.get("departments", {}).items()
        },
        source=source,
        identify=raw.get("identify", "first"),
        privacy=PrivacyConfig(**raw.get("privacy", {})),
        expiry=_expiry(raw.get("expiry", {})),
        retention=_retention(raw),
        limits=LimitsConfig(**raw.get("limits", {})),
        whatsapp_numbers=dict(raw.get("whatsapp", {}).get("numbers", {})),
        whatsapp_template=raw.get("whatsapp", {}).get("template"),
        whatsapp_language=raw.get("whatsapp", {}).get("language", "pt_BR"),
    )


def _expiry(section: Mapping[str, Any]) -> ExpiryConfig:
    team = section.get("team_after_hours")
    return ExpiryConfig(
        after=dt.timedelta(hours=section.get("after_hours", 24)),
        survey_after=dt.timedelta(hours=section.get("survey_after_hours", 2)),
        team_after=dt.timedelta(hours=team) if team else None,
        notice=section.get("notice", True),
    )


def _retention(raw: Mapping[str, Any]) -> RetentionConfig:
    """``[retention]`` and every ``[departments.<slug>.retention]``."""

    def periods(section: Mapping[str, Any]) -> RetentionPeriods:
        return RetentionPeriods(*(section.get(f"{kind}_days") for kind in RETENTION_KINDS))

    section = raw.get("retention", {})
    return RetentionConfig(
        city=periods(section),
        departments={
            slug: periods(own["retention"])
            for slug, own in raw.get("departments", {}).items()
            if "retention" in own
        },
        daily=section.get("daily", True),
    )


def _hours_sections(raw: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    sections = [("hours", raw["hours"])] if "hours" in raw else []
    for slug, section in raw.get("departments", {}).items():
        if "hours" in section:
            sections.append((f"departments.{slug}.hours", section["hours"]))
    return sections


def _parse_interval(text: str) -> tuple[dt.time, dt.time]:
    start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    return start, end


def _interval_problems(hours: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for day in WEEKDAYS:
        for index, interval in enumerate(hours.get(day, [])):
            try:
                start, end = _parse_interval(interval)
            except ValueError:
                problems.append((f"{day}[{index}]", f"{interval!r} is not like '08:00-17:00'"))
                continue
            if end <= start:
                problems.append((f"{day}[{index}]", f"{interval!r} ends before it starts"))
    for index, day in enumerate(hours.get("holidays", [])):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            problems.append((f"holidays[{index}]", f"{day!r} is not a date like 2026-12-25"))
    return problems


def _hours(section: Mapping[str, Any] | None, timezone: str) -> Hours:
    if not section:
        return Hours(timezone=timezone)
    return Hours(
        timezone=timezone,
        week={
            day: tuple(_parse_interval(interval) for interval in section[day])
            for day in WEEKDAYS
            if section.get(day)
        },
        holidays=frozenset(dt.date.fromisoformat(day) for day in section.get("holidays", [])),
    )


# -- a department plugin's settings ---------------------------------------------------


def settings_problems(config: Config, schemas: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """Every problem of the enabled departments' plugin settings, as ``file:
    departments.<slug>.<key>: reason`` lines (``[]`` when there is none).

    ``schemas`` maps each enabled department's slug to its plugin's
    :attr:`~civic.values.Department.settings_schema` (``None``: nothing to check). The
    section's keys but :data:`CORE_DEPARTMENT_KEYS` are checked against it; a TOML date
    satisfies ``{"format": "date"}`` (see :func:`settings_format_checker`).
    """
    source = config.source or "civic.toml"
    problems = []
    for slug, schema in schemas.items():
        if schema is None:
            continue
        own = config.department_settings.get(slug, DepartmentConfig()).settings
        settings = {k: v for k, v in own.items() if k not in CORE_DEPARTMENT_KEYS}
        problems += [
            f"{source}: departments.{slug}{where}: {why}"
            for where, why in _settings_errors(schema, settings)
        ]
    return problems


def _settings_errors(
    schema: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """``(".key.path", reason)`` for each way ``settings`` does not fit ``schema``."""
    try:
        errors = list(_settings_validator(schema).iter_errors(dict(settings)))
    except Exception as exc:  # a broken schema (or $ref) is the plugin's fault, not the city's
        reason = getattr(exc, "message", None) or str(exc)
        return [("", f"its plugin's settings_schema is not a valid JSON Schema: {reason}")]
    found = []
    for error in sorted(errors, key=lambda e: _path(e.absolute_path)):
        where = _path(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False:
            known = _known_keys(error.schema, top=not error.absolute_path)
            found += [
                (
                    f"{where}.{_key(key)}",
                    f"unknown setting (known here: {', '.join(known) or 'none'})",
                )
                for key in _unexpected(error.instance, error.schema)
            ]
        else:
            found.append((where, _reason(error)))
    return found


def _settings_validator(schema: Mapping[str, Any]) -> Any:
    """A validator of ``schema`` (checked against Draft 2020-12 first), built once per
    schema and process when the schema is plain JSON."""
    try:
        key = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return _new_settings_validator(schema)
    return _cached_settings_validator(key)


@cache
def _cached_settings_validator(key: str) -> Any:
    return _new_settings_validator(json.loads(key))


def _new_settings_validator(schema: Mapping[str, Any]) -> Any:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=settings_format_checker())


@cache
def settings_format_checker() -> Any:
    """jsonschema's format checker, where ``date``, ``date-time`` and ``time`` accept
    what TOML writes without quotes (``2026-12-01`` arrives as a :class:`datetime.date`)
    or a string in the ISO form, and refuse anything else (a number, a list, a date-time
    for a date). Other formats are jsonschema's."""
    import jsonschema

    checker = jsonschema.FormatChecker()
    checker.checks("date")(_is_date)
    checker.checks("date-time")(_is_date_time)
    checker.checks("time")(_is_time)
    return checker


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _is_date(value: object) -> bool:
    """A TOML date (not a date-time), or an existing ISO date ``2026-12-01``."""
    if isinstance(value, str):
        return bool(_ISO_DATE.fullmatch(value)) and _parses(dt.date.fromisoformat, value)
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _is_date_time(value: object) -> bool:
    """A TOML date-time, or an ISO one ``2026-12-01T08:00:00-03:00``."""
    if isinstance(value, str):
        return (
            _ISO_DATE.match(value) is not None
            and len(value) > 10
            and _parses(dt.datetime.fromisoformat, value)
        )
    return isinstance(value, dt.datetime)


def _is_time(value: object) -> bool:
    """A TOML time, or an ISO one ``08:00:00``."""
    if isinstance(value, str):
        return _parses(dt.time.fromisoformat, value)
    return isinstance(value, dt.time)


def _parses(parse: Any, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


#: How a settings error's format is said: the TOML way to write it.
_FORMAT_WORDS = {
    "date": "a date: write it like 2026-12-01, without quotes",
    "date-time": "a date and time: write it like 2026-12-01T08:00:00-03:00, without quotes",
    "time": "a time: write it like 08:00:00, without quotes",
}


def _reason(error: Any) -> str:
    """The reason of one settings error, the value written the TOML way."""
    shown = _shown(error.instance)
    if error.validator == "format" and error.validator_value in _FORMAT_WORDS:
        return f"{shown} is not {_FORMAT_WORDS[error.validator_value]}"
    if error.validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        return f"{shown} is not of type {' or '.join(map(repr, names))}"
    if error.validator == "required":
        return str(error.message)
    return str(error.message).replace(repr(error.instance), shown)


def _shown(value: object) -> str:
    """``value`` as civic.toml writes it (dates without quotes), at most 60 characters."""
    text = value.isoformat() if isinstance(value, dt.date | dt.time) else repr(value)
    return _key(text)


def _path(parts: Any) -> str:
    """``.exar.start``, ``.women_enlistment_years[1]``: where in the section."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{_key(part)}" for part in parts)


def _key(key: object) -> str:
    """A key as it can be printed: a lone surrogate escaped, at most 60 characters."""
    text = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 60 else text[:59] + "…"


def _unexpected(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The keys of ``instance`` that neither ``properties`` nor ``patternProperties``
    of ``schema`` allow."""
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties", {})]
    return [
        str(key)
        for key in instance
        if key not in schema.get("properties", {})
        and not any(pattern.search(str(key)) for pattern in patterns)
    ]


def _known_keys(schema: Mapping[str, Any], *, top: bool) -> list[str]:
    """The keys a section may hold: the schema's properties (and, at the top of a
    department's section, the keys the core reads)."""
    keys = set(schema.get("properties", {}))
    return sorted(keys | set(CORE_DEPARTMENT_KEYS) if top else keys)
