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
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import pluggy

from civic import hookspecs, redaction

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
    "scoring": "civic.default_plugins.scoring",
    "channels": "civic.default_plugins.channels",
}


class PluginLoadError(RuntimeError):
    """A plugin named by the operator could not be loaded; the message says why."""


class PluginFailed(RuntimeError):
    """A hook call failed and no plugin could be blamed, so it cannot be retried."""


def _names(environ: Mapping[str, str], variable: str) -> list[str] | None:
    value = environ.get(variable)
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def new_manager() -> pluggy.PluginManager:
    """An empty plugin manager that knows civic's hooks."""
    manager = pluggy.PluginManager("civic")
    manager.add_hookspecs(hookspecs)
    return manager


def make_manager(
    environ: Mapping[str, str] | None = None, manager: pluggy.PluginManager | None = None
) -> pluggy.PluginManager:
    """Load default, installed and development plugins into ``manager`` (default: a new
    one), as configured by the ``CIVIC_*`` variables of ``environ`` (default: the process
    environment)."""
    environ = os.environ if environ is None else environ
    manager = new_manager() if manager is None else manager
    for name in _names(environ, "CIVIC_BLOCK_PLUGINS") or []:
        manager.set_blocked(name)
    for name, module in DEFAULT_PLUGINS.items():
        if not manager.is_blocked(name):
            manager.register(importlib.import_module(module), name=name)
    allow = _names(environ, "CIVIC_LOAD_PLUGINS")
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allow is not None and entry_point.name not in allow:
            continue
        if manager.is_blocked(entry_point.name) or manager.get_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:  # a broken installed plugin must not take civic down
            log.error("cannot load plugin %s (%s): %s", entry_point.name, entry_point.value, exc)
            continue
        manager.register(plugin, name=entry_point.name)
    for spec in _names(environ, "CIVIC_PLUGINS") or []:
        register_module(spec, manager)
    manager.check_pending()
    if environ.get("CIVIC_TRACE_PLUGINS"):
        manager.trace.root.setwriter(redaction.redacting_writer(sys.stderr.write))
        manager.enable_tracing()
    return manager


#: The process's plugin manager; filled by :func:`load_plugins`.
pm = new_manager()
_loaded = False


def load_plugins() -> pluggy.PluginManager:
    """Load default, installed and development plugins into :data:`pm`, once."""
    global _loaded
    if not _loaded:
        _loaded = True
        make_manager(manager=pm)
    return pm


def register_module(spec: str, manager: pluggy.PluginManager = pm) -> ModuleType:
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
    if manager.get_plugin(plugin_name) is None:
        manager.register(module, name=plugin_name)
    manager.check_pending()
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


def notify(hook_name: str, manager: pluggy.PluginManager = pm, **kwargs: Any) -> int:
    """Call a notifying hook: each implementation once, in registration order.

    An implementation that raises is logged with its plugin's name and the others still
    run; nothing is retried. Returns how many implementations raised.
    """
    failures = 0
    for name, caller in each_plugin(hook_name, manager):
        try:
            caller(**kwargs)
        except Exception as exc:
            failures += 1
            log.error("plugin %s raised in hook %s: %r", name, hook_name, exc, exc_info=exc)
    return failures


def each_plugin(
    hook_name: str, manager: pluggy.PluginManager = pm
) -> Iterator[tuple[str, Callable[..., Any]]]:
    """For each plugin implementing ``hook_name``, in registration order: its name and a
    caller of its implementation only.

    Used for registration hooks, so civic knows which plugin registered what and a
    plugin that raises is blamed by name while the others still run.
    """
    implementers = {impl.plugin_name for impl in getattr(manager.hook, hook_name).get_hookimpls()}
    everyone = [plugin for _, plugin in manager.list_name_plugin()]
    # Registration order: defaults, then installed, then development plugins; so on a
    # clash the plugin that was there first keeps what it registered.
    for name in [name for name, _ in manager.list_name_plugin() if name in implementers]:
        own = manager.get_plugin(name)
        yield (
            name,
            manager.subset_hook_caller(
                hook_name, remove_plugins=[p for p in everyone if p is not own]
            ),
        )
