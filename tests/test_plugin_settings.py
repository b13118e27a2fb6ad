"""A department plugin's settings: declared as a JSON Schema, checked at `civic config
check` and when an engine starts (issue 11)."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from civic import Department, hookimpl
from civic.cli import app
from civic.config import (
    CORE_DEPARTMENT_KEYS,
    Config,
    ConfigError,
    DepartmentConfig,
    load_config,
    parse_config,
    settings_problems,
)
from civic.engine import Engine
from civic.instance import InstanceError, open_engine
from civic.storage import Storage
from civic_cac import DEPARTMENT as CAC
from civic_cac import SERVICE_PARTS, SERVICE_TOPICS
from civic_jsm import DEPARTMENT as JSM
from civic_jsm.triage import WOMEN_SETTING
from civic_procon import DEPARTMENT as PROCON
from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
BUILT_IN = {department.slug: department for department in (CAC, PROCON, JSM)}
SCHEMAS = {slug: department.settings_schema for slug, department in BUILT_IN.items()}


def problems_of(toml: str, tmp_path: Path) -> list[str]:
    """The settings problems of a civic.toml written from ``toml``."""
    path = tmp_path / "civic.toml"
    path.write_text(toml, encoding="utf-8")
    return settings_problems(load_config(path), SCHEMAS)


def check(tmp_path: Path, toml: str) -> Any:
    """`civic config check` of a civic.toml written from ``toml``."""
    path = tmp_path / "civic.toml"
    path.write_text(toml, encoding="utf-8")
    return runner.invoke(app, ["config", "check", str(path)])


# -- the built-in schemas -------------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(BUILT_IN))
def test_built_in_schemas_are_closed_json_schemas(slug: str) -> None:
    schema = SCHEMAS[slug]
    assert schema is not None
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert not set(schema["properties"]) & set(CORE_DEPARTMENT_KEYS)


def read_keys(package: str) -> set[str]:
    """The keys a plugin's code reads from its settings: ``settings.get("x")`` and
    ``settings.settings.get(NAME)`` (a constant's value read from the module)."""
    keys: set[str] = set()
    for path in (ROOT / "plugins" / package).glob("*.py"):
        module_name = f"civic_{package}" + ("" if path.stem == "__init__" else f".{path.stem}")
        module = importlib.import_module(module_name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and re.search(r"\bsettings$", ast.unparse(node.func.value))
            ):
                continue
            argument = node.args[0]
            if isinstance(argument, ast.Constant):
                keys.add(argument.value)
            elif isinstance(argument, ast.Name):
                keys.add(getattr(module, argument.id))
    return keys


@pytest.mark.parametrize(
    ("slug", "package"), [("cac", "cac"), ("procon", "procon"), ("jsm", "jsm")]
)
def test_every_key_a_plugin_reads_is_declared(slug: str, package: str) -> None:
    """With ``additionalProperties: false`` an undeclared key would be refused although
    the plugin reads it."""
    declared = set(SCHEMAS[slug]["properties"]) | set(CORE_DEPARTMENT_KEYS)
    assert read_keys(package) <= declared
    if slug == "jsm":
        assert read_keys(package) >= {"late_fine", "fine_date", "exar", WOMEN_SETTING}


def test_cac_schema_lists_every_service_and_part() -> None:
    services = SCHEMAS["cac"]["properties"]["services"]["properties"]
    assert set(services) == {topic.key for topic in SERVICE_TOPICS}
    part = SCHEMAS["cac"]["$defs"]["service"]["properties"]
    assert set(part) == {name for name, _ in SERVICE_PARTS}


def test_the_example_configuration_passes() -> None:
    result = runner.invoke(app, ["config", "check", str(ROOT / "examples" / "civic.toml")])
    assert result.exit_code == 0, result.output
    config = load_config(ROOT / "examples" / "civic.toml")
    assert settings_problems(config, SCHEMAS) == []
    assert config.for_department("jsm").settings["fine_date"] == dt.date(2026, 1, 1)


def test_a_complete_valid_section_of_each_department(tmp_path: Path) -> None:
    toml = """
[departments.cac]
keywords = ["sedese"]
deadline_days = 15
[departments.cac.contacts]
phone = "(35) 3435-0000"
[departments.cac.services.iptu]
who = "o Setor de Tributos"
where = "no balcão 3"
when = "de segunda a sexta"
how = "leve o CPF"
how_long = "na hora"
site = "https://exemplo.invalid/iptu"
[departments.procon]
keywords = ["consumidor"]
deadline_days = 30
[departments.procon.hours]
mon = ["08:00-12:00"]
[departments.jsm]
late_fine = "R$ 4,21"
lost_certificate_fine = "R$ 21,05"
fine_date = "2026-01-01"
women_enlistment_years = [2025, 2026]
exar = { start = 2026-12-01, end = "2026-12-31" }
"""
    assert problems_of(toml, tmp_path) == []


# -- what is reported ---------------------------------------------------------------

BAD = """
[departments.cac.services.ouvidoria]
who = "a Ouvidoria"
[departments.procon]
site = "https://procon.invalid"
[departments.jsm]
late_fine = 4.21
late_fien = "R$ 4,21"
fine_date = 2026-01-01T08:00:00
women_enlistment_years = [2026, "2027"]
exar = { start = 2026-12-01, fim = 2026-12-31 }
"""


def test_config_check_reports_each_problem_with_file_and_key(tmp_path: Path) -> None:
    result = check(tmp_path, BAD)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    path = str(tmp_path / "civic.toml")
    expected = [
        "departments.cac.services.ouvidoria: unknown setting (known here: agendamento, "
        "assistencia_social, certidoes, iptu)",
        "departments.procon.site: unknown setting (known here: contacts, deadline_days, "
        "hours, keywords, retention)",
        "departments.jsm.late_fien: unknown setting",
        "departments.jsm.late_fine: 4.21 is not of type 'string'",
        "departments.jsm.fine_date: 2026-01-01T08:00:00 is not a date: write it like "
        "2026-12-01, without quotes",
        "departments.jsm.women_enlistment_years[1]: '2027' is not of type 'integer'",
        "departments.jsm.exar.fim: unknown setting (known here: end, start)",
        "departments.jsm.exar: 'end' is a required property",
    ]
    for sentence in expected:
        assert any(line.startswith(f"{path}: {sentence}") for line in lines), sentence
    assert len(lines) == len(expected)


def test_run_and_the_instance_refuse_to_start_with_the_same_message(tmp_path: Path) -> None:
    config = tmp_path / "civic.toml"
    config.write_text(BAD, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = runner.invoke(app, ["run", "--config", str(config), "--database-url", url])
    assert result.exit_code != 0
    assert f"{config}: departments.jsm.late_fine: 4.21 is not of type 'string'" in result.stderr
    assert "Traceback" not in result.output
    with pytest.raises(InstanceError, match=r"departments\.procon\.site: unknown setting"):
        open_engine(config, url)


def test_the_core_keys_never_reach_a_plugins_schema(tmp_path: Path) -> None:
    toml = """
[departments.procon]
keywords = ["loja"]
deadline_days = 10
[departments.procon.contacts]
whatsapp = "(35) 9 8415-6302"
[departments.procon.hours]
tue = ["08:00-11:30"]
"""
    assert problems_of(toml, tmp_path) == []


def test_a_disabled_departments_section_is_not_checked(tmp_path: Path) -> None:
    toml = 'enabled = ["cac"]\n[departments.jsm]\nlate_fine = 4.21\n'
    path = tmp_path / "civic.toml"
    path.write_text(toml, encoding="utf-8")
    assert runner.invoke(app, ["config", "check", str(path)]).exit_code == 0


# -- TOML dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "fine"),
    [
        ("2026-01-01", True),  # a TOML date
        ('"2026-01-01"', True),  # the same, quoted
        ("2026-01-01T08:00:00", False),  # a date and time
        ("08:00:00", False),  # a time
        ('"2026-02-30"', False),  # a day that does not exist
        ('"01/01/2026"', False),  # the Brazilian way is for citizens, not for civic.toml
        ("20260101", False),
        ("[2026-01-01]", False),
    ],
)
def test_fine_date_is_a_date(tmp_path: Path, written: str, fine: bool) -> None:
    problems = problems_of(f"[departments.jsm]\nfine_date = {written}\n", tmp_path)
    if fine:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problems[0].endswith("is not a date: write it like 2026-12-01, without quotes")


@pytest.mark.parametrize(("year", "fine"), [(2023, False), (2024, True), (2999, True)])
def test_women_enlistment_years_start_with_the_decree(
    tmp_path: Path, year: int, fine: bool
) -> None:
    """Women's voluntary enlistment was created by Decreto nº 12.154/2024: a year before
    2024 cannot be a year of its plan, so it is a typing mistake."""
    problems = problems_of(f"[departments.jsm]\nwomen_enlistment_years = [{year}]\n", tmp_path)
    assert (problems == []) is fine


def test_date_time_and_time_formats_take_toml_values_too() -> None:
    schema = {
        "type": "object",
        "properties": {"at": {"format": "date-time"}, "opens": {"format": "time"}},
    }
    good = {"at": dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC), "opens": dt.time(8)}
    assert settings_problems(config_with("x", good), {"x": schema}) == []
    strings = {"at": "2026-01-01T08:00:00-03:00", "opens": "08:00"}
    assert settings_problems(config_with("x", strings), {"x": schema}) == []
    wrong = {"at": dt.date(2026, 1, 1), "opens": "8h"}
    assert [
        p.split(": ", 2)[1] for p in settings_problems(config_with("x", wrong), {"x": schema})
    ] == [
        "departments.x.at",
        "departments.x.opens",
    ]


# -- a third-party plugin's schema ------------------------------------------------------


def config_with(slug: str, settings: Mapping[str, Any]) -> Config:
    return Config(department_settings={slug: DepartmentConfig(settings=settings)}, source="c.toml")


BIBLIOTECA_SCHEMA = {
    "type": "object",
    "required": ["loan_days"],
    "properties": {"loan_days": {"type": "integer", "minimum": 1}},
}


class Biblioteca:
    """A plugin whose department needs one setting."""

    __name__ = "biblioteca"

    @hookimpl
    def register_departments(self, register: Any) -> None:
        register(
            Department(slug="biblioteca", name="Biblioteca", settings_schema=BIBLIOTECA_SCHEMA)
        )


def test_an_engine_refuses_to_start_without_a_required_setting(storage: Storage) -> None:
    from civic.plugins import load_plugins

    pm = load_plugins()
    plugin = Biblioteca()
    pm.register(plugin)
    try:
        with pytest.raises(ConfigError) as raised:
            Engine(storage, secret=SECRET, manager=pm, config=config_with("biblioteca", {}))
        assert raised.value.problems == [
            "c.toml: departments.biblioteca: 'loan_days' is a required property"
        ]
        settings = {"loan_days": 14, "anything": ["else"]}  # not closed: extra keys are fine
        engine = Engine(
            storage, secret=SECRET, manager=pm, config=config_with("biblioteca", settings)
        )
        assert "biblioteca" in engine.registry.slugs
    finally:
        pm.unregister(plugin)


def test_no_schema_checks_nothing() -> None:
    assert settings_problems(config_with("x", {"a": object()}), {"x": None}) == []


@pytest.mark.parametrize(
    "schema", [{"type": "nonsense"}, {"properties": {"a": {"$ref": "#/$defs/missing"}}}]
)
def test_a_broken_schema_is_reported_as_the_plugins_fault(schema: dict[str, Any]) -> None:
    problems = settings_problems(config_with("x", {"a": 1}), {"x": schema})
    assert len(problems) == 1
    assert problems[0].startswith(
        "c.toml: departments.x: its plugin's settings_schema is not a valid JSON Schema:"
    )


def test_reasons_stay_short_with_hostile_values() -> None:
    huge = "9" * 250_000
    settings = {"late_fine": [huge], "\udc80" + "x" * 250_000: dt.date(2026, 1, 1)}
    problems = settings_problems(config_with("jsm", settings), SCHEMAS)
    assert len(problems) == 2
    assert all(len(problem) < 400 for problem in problems)


TOML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text()
    | st.dates()
    | st.datetimes()
    | st.times(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["late_fine", "fine_date", "exar", WOMEN_SETTING, "x"]) | st.text(),
        TOML_VALUES,
        max_size=6,
    )
)
def test_any_values_give_problems_never_an_exception(settings: dict[str, Any]) -> None:
    for slug in BUILT_IN:
        for problem in settings_problems(config_with(slug, settings), SCHEMAS):
            assert problem.startswith(f"c.toml: departments.{slug}")


def test_parse_config_still_accepts_plugin_keys_alone() -> None:
    """Parsing does not know the plugins: a plugin's key is checked only with them."""
    config = parse_config({"departments": {"jsm": {"late_fine": 4.21}}})
    assert config.for_department("jsm").settings["late_fine"] == 4.21
    assert settings_problems(config, SCHEMAS) == [
        "civic.toml: departments.jsm.late_fine: 4.21 is not of type 'string'"
    ]
