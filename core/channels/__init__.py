"""Channels: how civic talks to citizens outside its own process (WhatsApp first).

A channel is an adapter over the engine, never conversation logic: it turns what it
receives into :class:`~civic.values.Inbound` for :meth:`civic.engine.Engine.handle`, and
delivers what the engine put in the outbox. Plugins register channels through the
``register_channels`` hook; WhatsApp, the web chat and the terminal of ``civic run`` are
built-in channel plugins registered the same way.

Nothing here imports the HTTP stack: a channel's ``routes`` and ``sender`` import what
they need when ``civic serve`` calls them, so ``civic --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from civic.values import Delivery

if TYPE_CHECKING:
    from civic.config import Config
    from civic.engine import Engine


@attrs.frozen
class Outgoing:
    """One outbox message to deliver: the delivery, the citizen's address on the channel,
    and what the channel stored about the conversation (``channel_data``: for WhatsApp,
    the business number the citizen wrote to and their phone when known)."""

    delivery: Delivery
    address: str
    channel_data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Sent:
    """What became of one delivery attempt.

    :param ok: the provider accepted the message.
    :param provider_id: the provider's id of the sent message (statuses refer to it).
    :param error: why it was not sent (shown to staff).
    :param retry: whether trying again later may work (a network error, a 5xx); ``False``
        marks the message failed at once (a refusal that will not change).
    """

    ok: bool
    provider_id: str | None = None
    error: str | None = None
    retry: bool = True


@attrs.define
class Host:
    """What a running service gives its channels: the engine, the city's configuration,
    an HTTP client for providers, and a way to run the engine's blocking calls."""

    engine: Engine
    config: Config
    http: Any = None  # an httpx.AsyncClient while civic serve runs
    development: bool = False
    run_blocking: Callable[..., Awaitable[Any]] | None = None

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking function (the engine, the database) off the event loop."""
        if self.run_blocking is None:
            return function(*args, **kwargs)
        return await self.run_blocking(function, *args, **kwargs)


@attrs.frozen
class Channel:
    """A way citizens reach civic, registered by a plugin through ``register_channels``.

    :param name: stored with every message and conversation (``whatsapp``); at most 32
        characters, lower-case.
    :param description: one line for ``civic serve --help`` and the logs.
    :param routes: ``routes(host)`` returns the Starlette routes the channel serves (its
        webhook, its page), or ``None`` for a channel without HTTP (the terminal).
    :param sender: ``await sender(host, outgoing)`` sends one outbox message and returns
        :class:`Sent`; ``None`` for a channel whose clients fetch their messages (the web
        chat, the terminal). civic retries failed sends with back-off.
    :param process: ``process(host, body)`` handles one raw delivery the channel's webhook
        stored in the inbox (blocking; it calls the engine) and returns the reasons of any
        part it could not understand (those make the delivery a dead letter); ``civic
        inbox retry`` calls it again. ``None`` for a channel without an inbox.
    :param settings: the environment variables the channel reads, for documentation.
    :param problems: ``problems(host)`` lists why the channel cannot start (a missing app
        secret); ``civic serve`` refuses to start while there are any.
    """

    name: str
    description: str = ""
    routes: Callable[[Host], Sequence[Any]] | None = None
    sender: Callable[[Host, Outgoing], Awaitable[Sent]] | None = None
    settings: tuple[str, ...] = ()
    problems: Callable[[Host], list[str]] | None = None
    process: Callable[[Host, bytes], Sequence[str]] | None = None


def collect_channels(manager: Any) -> dict[str, Channel]:
    """Every channel the plugins register, by name; the first registration of a name
    wins and a clash is logged with both plugins' names."""
    import logging
    import re

    from civic.plugins import each_plugin

    log = logging.getLogger(__name__)
    found: dict[str, Channel] = {}
    owners: dict[str, str] = {}
    for plugin_name, caller in each_plugin("register_channels", manager):

        def register(channel: object, plugin_name: str = plugin_name) -> None:
            if not isinstance(channel, Channel) or not re.fullmatch(
                r"[a-z][a-z0-9_-]{0,31}", channel.name
            ):
                log.error("plugin %s registered %r: not a valid Channel", plugin_name, channel)
                return
            if channel.name in found:
                log.error(
                    "channel %s of plugin %s left out: already registered by %s",
                    channel.name,
                    plugin_name,
                    owners[channel.name],
                )
                return
            found[channel.name] = channel
            owners[channel.name] = plugin_name

        try:
            caller(register=register)
        except Exception:
            log.exception("plugin %s raised in register_channels", plugin_name)
    return found
