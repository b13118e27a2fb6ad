"""Plugin loading: defaults, entry points, allowlist, blocking, development plugins."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pluggy
import pytest

from civic import hookspecs
from civic.plugins import (
    DEFAULT_PLUGINS,
    PluginLoadError,
    call_safely,
    make_manager,
    new_manager,
    plugin_infos,
)
from civic.reading import read

BUILT_IN_DEPARTMENTS = {"cac", "procon", "jsm"}


def names(manager: pluggy.PluginManager) -> set[str]:
    return {name for name, plugin in manager.list_name_plugin() if plugin is not None}


def test_defaults_and_installed_departments_load() -> None:
    manager = make_manager({})
    assert set(DEFAULT_PLUGINS) | BUILT_IN_DEPARTMENTS <= names(manager)


def test_departments_come_from_entry_points() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="civic")}
    assert found["procon"] == "civic_procon"
    assert {"cac", "jsm"} <= set(found)


def test_load_plugins_allowlist() -> None:
    assert names(make_manager({"CIVIC_LOAD_PLUGINS": "procon"})) & BUILT_IN_DEPARTMENTS == {
        "procon"
    }
    assert not names(make_manager({"CIVIC_LOAD_PLUGINS": ""})) & BUILT_IN_DEPARTMENTS


def test_default_plugins_can_be_blocked() -> None:
    manager = make_manager({"CIVIC_BLOCK_PLUGINS": "routing, identify_cpf"})
    assert "routing" not in names(manager) and manager.is_blocked("routing")
    assert not manager.hook.identify_citizen.get_hookimpls()


def test_development_plugin_by_path(tmp_path: Path) -> None:
    plugin = tmp_path / "bairros.py"
    plugin.write_text(
        textwrap.dedent(
            """
            from civic import Department, hookimpl

            @hookimpl
            def register_departments(register):
                register(Department(slug="bairros", name="Bairros"))
            """
        )
    )
    manager = make_manager({"CIVIC_PLUGINS": str(plugin), "CIVIC_LOAD_PLUGINS": ""})
    assert "bairros" in names(manager)


def test_missing_development_plugin_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="not found"):
        make_manager({"CIVIC_PLUGINS": str(tmp_path / "nope.py")})
    with pytest.raises(PluginLoadError, match="cannot load plugin no_such_module"):
        make_manager({"CIVIC_PLUGINS": "no_such_module"})


def test_misspelt_hook_fails_loudly(tmp_path: Path) -> None:
    plugin = tmp_path / "typo.py"
    plugin.write_text("from civic import hookimpl\n\n@hookimpl\ndef regster_departments(): ...\n")
    with pytest.raises(pluggy.PluginValidationError, match="regster_departments"):
        make_manager({"CIVIC_PLUGINS": str(plugin)})


def test_call_safely_skips_a_raising_plugin() -> None:
    manager = new_manager()

    class Good:
        @hookspecs.hookimpl
        def route_message(self) -> str:
            return "cac"

    class Bad:
        @hookspecs.hookimpl
        def route_message(self) -> str:
            raise ValueError("nope")

    manager.register(Good(), name="good")
    manager.register(Bad(), name="bad")  # registered last, so called first
    found = call_safely(
        "route_message", manager, text="x", departments=[], conversation=None, message=read("x")
    )
    assert found == "cac"


def test_plugin_infos_hide_defaults_unless_asked() -> None:
    shown = {info["name"] for info in plugin_infos()}
    assert shown >= BUILT_IN_DEPARTMENTS and not shown & set(DEFAULT_PLUGINS)
    everything = {info["name"]: info for info in plugin_infos(include_defaults=True)}
    assert "register_departments" in everything["procon"]["hooks"]
    assert everything["routing"]["hooks"] == ["route_message"]
    json.dumps(list(everything.values()))  # serialisable for `civic plugins --json`


def test_every_hook_is_documented_as_a_contract() -> None:
    for name in dir(hookspecs):
        spec = getattr(hookspecs, name)
        if not hasattr(spec, "civic_spec"):
            continue
        doc = spec.__doc__ or ""
        assert "Called" in doc, f"{name}: say when it is called"
        assert "firstresult" in doc or "Collected" in doc, f"{name}: say the calling mode"
        firstresult = spec.civic_spec.get("firstresult", False)
        assert ("firstresult: stops at the first" in doc) == firstresult, name
