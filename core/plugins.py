"""The plugin manager: default plugins, entry points, development plugins, safe calls.

Environment variables:

``CIVIC_LOAD_PLUGINS``
    Comma-separated allowlist of installed (entry-point) plugins to load; empty loads none.
    Unset loads them all.
``CIVIC_PLUGINS``
    Comma-separated plugins to load for development: a module name or a ``.py`` file path.
``CIVIC_BLOCK_PLUGINS``
    Comma-separated names of plugins not to load, default ones included (``routing``).
``CIVIC_TRACE_PLUGINS``
    Set to ``1`` to print every hook call to standard error.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import pluggy

from civic import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "civic"

#: Built-in behaviour, registered as ordinary plugins under these names.
DEFAULT_PLUGINS: dict[str, str] = {
    "identify_cpf": "civic.default_plugins.identify_cpf",
    "routing": "civic.default_plugins.routing",
    "topics": "civic.default_plugins.topics",
    "survey": "civic.default_plugins.survey",
    "protocols": "civic.default_plugins.protocols",
    "formats": "civic.default_plugins.formats",
}


class PluginLoadError(RuntimeError):
    """A plugin named by the operator could not be loaded; the message says why."""


class PluginFailed(RuntimeError):
    """A hook call failed and no plugin could be blamed, so it cannot be retried."""


pm = pluggy.PluginManager("civic")
pm.add_hookspecs(hookspecs)
_loaded = False


def _names(variable: str) -> list[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def load_plugins() -> pluggy.PluginManager:
    """Load default, installed and development plugins once; return the manager."""
    global _loaded
    if _loaded:
        return pm
    _loaded = True
    for name in _names("CIVIC_BLOCK_PLUGINS") or []:
        pm.set_blocked(name)
    for name, module in DEFAULT_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module), name=name)
    allow = _names("CIVIC_LOAD_PLUGINS")
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allow is not None and entry_point.name not in allow:
            continue
        if pm.is_blocked(entry_point.name) or pm.get_plugin(entry_point.name) is not None:
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:  # a broken installed plugin must not take civic down
            log.error("cannot load plugin %s (%s): %s", entry_point.name, entry_point.value, exc)
            continue
        pm.register(plugin, name=entry_point.name)
    for spec in _names("CIVIC_PLUGINS") or []:
        register_module(spec)
    pm.check_pending()
    if os.environ.get("CIVIC_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda text: sys.stderr.write(text))
        pm.enable_tracing()
    return pm


def register_module(spec: str) -> ModuleType:
    """Load and register a development plugin from a module name or a ``.py`` path."""
    path = Path(spec)
    try:
        if spec.endswith(".py") or path.exists():
            if not path.is_file():
                raise PluginLoadError(f"plugin file not found: {spec}")
            name = f"civic_dev_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise PluginLoadError(f"cannot load plugin file {spec}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
            plugin_name = path.stem
        else:
            module = importlib.import_module(spec)
            plugin_name = spec
    except PluginLoadError:
        raise
    except Exception as exc:
        raise PluginLoadError(f"cannot load plugin {spec}: {exc}") from exc
    if pm.get_plugin(plugin_name) is None:
        pm.register(module, name=plugin_name)
    pm.check_pending()
    return module


def plugin_infos(*, include_defaults: bool = False) -> list[dict[str, Any]]:
    """Name, version and implemented hooks of each registered plugin."""
    load_plugins()
    versions = {
        ep.name: ep.dist.version if ep.dist else None
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
    }
    infos = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        default = name in DEFAULT_PLUGINS
        if default and not include_defaults:
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        info: dict[str, Any] = {"name": name, "hooks": hooks}
        if name in versions:
            info["version"] = versions[name]
        elif default:
            from civic import __version__

            info["version"] = __version__
        infos.append(info)
    return infos


# -- calling hooks safely -----------------------------------------------------------


def blame(hook_name: str, error: BaseException, manager: pluggy.PluginManager = pm) -> str | None:
    """The name of the plugin whose implementation of ``hook_name`` raised ``error``."""
    owners = {}
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        code = getattr(impl.function, "__code__", None)
        if code is not None:
            owners[code] = impl.plugin_name
    for frame_code in _traceback_codes(error.__traceback__):
        if frame_code in owners:
            return owners[frame_code]
    return None


def _traceback_codes(tb: TracebackType | None) -> Iterator[Any]:
    while tb is not None:
        yield tb.tb_frame.f_code
        tb = tb.tb_next


def call_safely(hook_name: str, manager: pluggy.PluginManager = pm, **kwargs: Any) -> Any:
    """Call a hook; when a plugin raises, log it by name and call again without it.

    Raises :class:`PluginFailed` only when the failure cannot be pinned on a plugin.
    """
    skipped: list[object] = []
    while True:
        caller = (
            manager.subset_hook_caller(hook_name, remove_plugins=skipped)
            if skipped
            else getattr(manager.hook, hook_name)
        )
        try:
            return caller(**kwargs)
        except Exception as exc:
            culprit = blame(hook_name, exc, manager)
            log.error(
                "plugin %s raised in hook %s: %r",
                culprit or "(unknown)",
                hook_name,
                exc,
                exc_info=exc,
            )
            plugin = manager.get_plugin(culprit) if culprit else None
            if plugin is None or plugin in skipped:
                raise PluginFailed(f"hook {hook_name} failed: {exc!r}") from exc
            skipped.append(plugin)


def call_each(hook_name: str, manager: pluggy.PluginManager = pm, **kwargs: Any) -> Iterator[
    tuple[str, Any]
]:
    """Call a collected hook one plugin at a time, yielding ``(plugin name, result)``.

    A plugin that raises is logged and yields its exception as the result, so the caller
    knows whom to blame and the other plugins still run.
    """
    implementers = {impl.plugin_name for impl in getattr(manager.hook, hook_name).get_hookimpls()}
    everyone = [plugin for _, plugin in manager.list_name_plugin()]
    for name in sorted(implementers):
        own = manager.get_plugin(name)
        caller = manager.subset_hook_caller(
            hook_name, remove_plugins=[p for p in everyone if p is not own]
        )
        try:
            results = caller(**kwargs)
        except Exception as exc:
            log.error("plugin %s raised in hook %s: %r", name, hook_name, exc, exc_info=exc)
            yield name, exc
            continue
        yield name, results[0] if isinstance(results, list) and results else results
