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


@attrs.frozen
class ExpiryConfig:
    """How long a quiet conversation stays open; ``team_after=None`` never expires one
    waiting for or with the team."""

    after: dt.timedelta = dt.timedelta(hours=24)
    survey_after: dt.timedelta = dt.timedelta(hours=2)
    team_after: dt.timedelta | None = None
    notice: bool = True


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
    return json.loads(source.read_text(encoding="utf-8"))


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
    try:
        raw = tomllib.loads(found.read_text(encoding="utf-8"))
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
                settings={k: v for k, v in section.items() if k not in ("contacts", "hours")},
            )
            for slug, section in raw.get("departments", {}).items()
        },
        source=source,
        identify=raw.get("identify", "first"),
        privacy=PrivacyConfig(**raw.get("privacy", {})),
        expiry=_expiry(raw.get("expiry", {})),
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
