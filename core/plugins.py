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
    Set to ``1`` to print every hook call to standard error: the hook, the shape of its
    arguments and result (ids, states, lengths), never what a citizen wrote.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import os
import queue
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from importlib import metadata
from pathlib import Path
from types import CodeType, ModuleType, TracebackType
from typing import Any

import attrs
import pluggy

from civic import hookspecs, redaction
from civic.values import Answer, HandOver, Identity, NotIdentified, StartForm

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
    """A hook call failed and cannot be retried: no plugin could be blamed, a plugin's
    wrong answer left none, or the call passed its time limit."""


#: Why an installed plugin could not be loaded, per manager (``civic plugins check``).
_LOAD_ERRORS: weakref.WeakKeyDictionary[pluggy.PluginManager, list[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def load_errors(manager: pluggy.PluginManager) -> list[tuple[str, str]]:
    """The installed plugins ``manager`` could not load: ``(name, why)``, in load order."""
    return list(_LOAD_ERRORS.get(manager, ()))


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
            _LOAD_ERRORS.setdefault(manager, []).append((entry_point.name, str(exc)))
            continue
        manager.register(plugin, name=entry_point.name)
    for spec in _names(environ, "CIVIC_PLUGINS") or []:
        register_module(spec, manager)
    manager.check_pending()
    if environ.get("CIVIC_TRACE_PLUGINS"):
        manager.trace.root.setwriter(redaction.redacting_writer(sys.stderr.write))
        redaction.trace_hooks(manager, lambda text: sys.stderr.write(text))
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
    owners: dict[CodeType, str] = {}
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        code = getattr(impl.function, "__code__", None)
        if code is not None:
            owners[code] = impl.plugin_name
    for frame_code in _traceback_codes(error.__traceback__):
        if frame_code in owners:
            return owners[frame_code]
    return None


def _traceback_codes(tb: TracebackType | None) -> Iterator[CodeType]:
    while tb is not None:
        yield tb.tb_frame.f_code
        tb = tb.tb_next


@attrs.frozen
class Returns:
    """What a hook's implementations may return besides ``None``: ``what`` for the log,
    ``check(value)`` whether a value is one."""

    what: str
    check: Callable[[Any], bool]


def _score(value: Any) -> bool:
    if isinstance(value, str):
        return value == "decline" or value.startswith("refuse:")
    return isinstance(value, int) and not isinstance(value, bool)


def _slugs(value: Any) -> bool:
    if isinstance(value, tuple | list):
        return bool(value) and all(isinstance(slug, str) for slug in value)
    return isinstance(value, str)


#: The hooks whose results civic uses, and what each may return. Where civic takes a
#: result (:func:`call_safely`, :func:`call_first`), a value of another type is logged
#: with the plugin and the hook, and civic goes on as if that plugin had returned
#: ``None``: the next plugin answers, in the end the built-in default.
RETURNS: dict[str, Returns] = {
    "identify_citizen": Returns(
        "an Identity or a NotIdentified", lambda v: isinstance(v, Identity | NotIdentified)
    ),
    "route_message": Returns("a department slug (str) or a tuple of slugs", _slugs),
    "department_message": Returns(
        "an Answer, a StartForm or a HandOver",
        lambda v: isinstance(v, Answer | StartForm | HandOver),
    ),
    "form_submitted": Returns("a str", lambda v: isinstance(v, str)),
    "protocol_number": Returns("a str", lambda v: isinstance(v, str)),
    "score_rating": Returns('an int, "decline" or "refuse:<sentence>"', _score),
}


@functools.cache
def _firstresult(hook_name: str) -> bool:
    spec = getattr(getattr(hookspecs, hook_name, None), "civic_spec", None) or {}
    return bool(spec.get("firstresult"))


def _conforms(hook_name: str, result: Any) -> bool:
    """Whether a hook call's ``result`` (a list for a collected hook) holds only values
    :data:`RETURNS` allows."""
    expected = RETURNS.get(hook_name)
    if expected is None or result is None:
        return True
    if _firstresult(hook_name):
        return expected.check(result)
    return all(expected.check(value) for value in result)


def wrong_return(plugin: str, hook_name: str, value: Any) -> None:
    """Log that ``plugin`` returned ``value``, which is not what ``hook_name`` returns."""
    expected = RETURNS[hook_name].what if hook_name in RETURNS else "what the hook expects"
    shown = redaction.describe(value)  # its shape: it may hold what a citizen wrote
    if not shown.startswith(type(value).__name__):
        shown = f"{type(value).__name__} {shown}"
    log.error(
        "plugin %s returned %s from hook %s, which expects %s (or None): ignored",
        plugin,
        shown,
        hook_name,
        expected,
    )


#: The longest a hook call of a conversation may take, in seconds
#: (``CIVIC_HOOK_TIME_LIMIT``; ``0``: no limit). Past it civic stops waiting (the
#: plugin's thread is left to finish on its own) and treats the call as failed. Code
#: shipped with civic (:data:`OWN_PACKAGES`) is called directly, without the limit's
#: thread hop: only a hook that another plugin implements runs in a worker thread.
TIME_LIMIT = float(os.environ.get("CIVIC_HOOK_TIME_LIMIT") or 5)
#: civic's own packages: its default plugins and the departments it ships.
OWN_PACKAGES = frozenset({"civic", "civic_cac", "civic_procon", "civic_jsm"})


def foreign(functions: Iterable[Callable[..., Any]]) -> bool:
    """Whether any of ``functions`` comes from outside civic's own packages (a
    development plugin file is ``civic_dev_<name>``: outside)."""
    return any(
        str(getattr(function, "__module__", "") or "").split(".")[0] not in OWN_PACKAGES
        for function in functions
    )


def hook_limit(hook_name: str, manager: pluggy.PluginManager, limit: float) -> float | None:
    """``limit`` when a plugin from outside civic implements ``hook_name``, else
    ``None`` (civic's own code runs in the calling thread)."""
    impls = getattr(manager.hook, hook_name).get_hookimpls()
    return limit if foreign(impl.function for impl in impls) else None


class PluginTimedOut(PluginFailed):
    """A hook call did not return within its time limit."""


class _Runner:
    """Daemon threads that run hook calls for :func:`within`: one is reused when idle,
    a new one started when none is (a hung call keeps its thread; the process never
    waits for it, even to exit)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, function: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._work, name="civic-hook", daemon=True).start()
        self._jobs.put((function, future))
        return future

    def _work(self) -> None:
        while True:
            function, future = self._jobs.get()
            try:
                future.set_result(function())
            except BaseException as exc:  # handed to the caller, which re-raises it
                future.set_exception(exc)
            with self._lock:
                self._idle += 1


_RUNNER = _Runner()


def within(limit: float | None, function: Callable[[], Any]) -> Any:
    """``function()`` in a worker thread, waiting at most ``limit`` seconds
    (:class:`PluginTimedOut` after); run here when ``limit`` is ``None`` or 0."""
    if not limit:
        return function()
    future = _RUNNER.submit(function)
    try:
        return future.result(timeout=limit)
    except FutureTimeout:
        raise PluginTimedOut(f"no answer within {limit:g} s") from None


def call_safely(
    hook_name: str,
    manager: pluggy.PluginManager = pm,
    *,
    time_limit: float | None = None,
    **kwargs: Any,
) -> Any:
    """Call a hook; when a plugin raises, log it by name and call again without it.

    A result that is not what :data:`RETURNS` allows for the hook is logged with the
    plugin that returned it and left out, as if it had returned ``None``. When the
    plugins left out (raising or wrong) leave a ``firstresult`` hook without an answer,
    the call failed. With ``time_limit`` (seconds) the call runs in a worker thread when
    a plugin from outside civic implements the hook (:func:`hook_limit`), and
    :class:`PluginTimedOut` is raised when it does not end in time.

    Raises :class:`PluginFailed` when the failure cannot be pinned on a plugin, when the
    plugins left out leave no answer, or when the time limit passed.
    """
    skipped: list[object] = []
    while True:
        caller = (
            manager.subset_hook_caller(hook_name, remove_plugins=skipped)
            if skipped
            else getattr(manager.hook, hook_name)
        )
        limit = hook_limit(hook_name, manager, time_limit) if time_limit else None
        try:
            result = within(limit, functools.partial(caller, **kwargs))
        except PluginTimedOut as exc:
            log.error("hook %s: %s; left running, the call counts as failed", hook_name, exc)
            raise
        except Exception as exc:
            culprit = blame(hook_name, exc, manager)
            log.error(
                "plugin %s raised in hook %s: %s",
                culprit or "(unknown)",
                hook_name,
                type(exc).__name__,
                exc_info=exc,
            )
            plugin = manager.get_plugin(culprit) if culprit else None
            if plugin is None or plugin in skipped:
                raise PluginFailed(f"hook {hook_name} failed: {type(exc).__name__}") from exc
            skipped.append(plugin)
            continue
        if _conforms(hook_name, result):
            if result is None and skipped and _firstresult(hook_name):
                # The plugins that raised were the ones to answer: nobody did.
                raise PluginFailed(f"hook {hook_name}: no answer once the failing plugins left")
            return result
        # Rare: find who returned what, one implementation at a time.
        if _firstresult(hook_name):
            answer = call_first(hook_name, manager, skip=skipped, **kwargs)[1]
            if answer is None:
                raise PluginFailed(f"hook {hook_name}: no plugin answered what it expects")
            return answer
        return [value for _, value in call_each(hook_name, manager, skip=skipped, **kwargs)]


def in_call_order(
    hook_name: str, manager: pluggy.PluginManager = pm, skip: list[object] | None = None
) -> Iterator[tuple[str, Callable[..., Any]]]:
    """For each plugin implementing ``hook_name``, in the order pluggy calls them (the
    last registered first, ``tryfirst`` before and ``trylast`` after the others): its name
    and a caller of its implementation only. Plugins in ``skip`` are left out."""
    skip = skip or []
    everyone = [plugin for _, plugin in manager.list_name_plugin()]
    seen: set[str] = set()
    for impl in reversed(getattr(manager.hook, hook_name).get_hookimpls()):
        if impl.hookwrapper or impl.wrapper or impl.plugin in skip or impl.plugin_name in seen:
            continue
        seen.add(impl.plugin_name)
        yield (
            impl.plugin_name,
            manager.subset_hook_caller(
                hook_name, remove_plugins=[p for p in everyone if p is not impl.plugin]
            ),
        )


def call_first(
    hook_name: str,
    manager: pluggy.PluginManager = pm,
    skip: list[object] | None = None,
    **kwargs: Any,
) -> tuple[str | None, Any]:
    """Call a ``firstresult`` hook one implementation at a time: the first acceptable
    non-``None`` result and the name of the plugin that returned it (``(None, None)``
    when none did).

    An implementation that raises, or returns what :data:`RETURNS` does not allow, is
    logged with its plugin's name and skipped.
    """
    for name, caller in in_call_order(hook_name, manager, skip):
        try:
            value = caller(**kwargs)
        except Exception as exc:
            log.error(
                "plugin %s raised in hook %s: %s", name, hook_name, type(exc).__name__, exc_info=exc
            )
            continue
        if value is None:
            continue
        if hook_name in RETURNS and not RETURNS[hook_name].check(value):
            wrong_return(name, hook_name, value)
            continue
        return name, value
    return None, None


def call_each(
    hook_name: str,
    manager: pluggy.PluginManager = pm,
    skip: list[object] | None = None,
    **kwargs: Any,
) -> list[tuple[str, Any]]:
    """Call a collected hook one implementation at a time: each plugin's acceptable
    non-``None`` result with its name, in pluggy's call order. An implementation that
    raises, or returns what :data:`RETURNS` does not allow, is logged and left out."""
    found = []
    for name, caller in in_call_order(hook_name, manager, skip):
        try:
            values = caller(**kwargs)
        except Exception as exc:
            log.error(
                "plugin %s raised in hook %s: %s", name, hook_name, type(exc).__name__, exc_info=exc
            )
            continue
        for value in values:
            if hook_name in RETURNS and not RETURNS[hook_name].check(value):
                wrong_return(name, hook_name, value)
                continue
            found.append((name, value))
    return found


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
            log.error(
                "plugin %s raised in hook %s: %s", name, hook_name, type(exc).__name__, exc_info=exc
            )
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
