"""``civic serve``: the HTTP host of the channels (an ASGI app on Starlette).

The app opens the database and the engine once, mounts every registered channel's routes,
answers ``/healthz`` (the process is up) and ``/readyz`` (the database answers), and runs
the delivery loop that sends the outbox. Channels are adapters: conversation logic stays
in the engine.

Workers started by uvicorn each build their own app from the environment
(:func:`app_from_environment`), so ``--workers 4`` needs nothing shared but the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import re
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from civic.channels import Channel, Host, collect_channels
from civic.delivery import delivery_loop

log = logging.getLogger(__name__)

#: Set by ``civic serve --dev``: channels may start without their secrets.
DEVELOPMENT_ENV = "CIVIC_DEVELOPMENT"


class ServeError(RuntimeError):
    """The service cannot start; the message says why (for the operator)."""


def build_host(
    *, config_path: str | os.PathLike[str] | None, database_url: str | None, development: bool
) -> Host:
    """The engine over the database and configuration, wrapped for the channels."""
    from civic import instance

    try:
        engine = instance.open_engine(config_path, database_url)
    except instance.InstanceError as exc:
        raise ServeError(str(exc)) from None
    return Host(engine=engine, config=engine.config, development=development)


def create_app(host: Host, channels: dict[str, Channel] | None = None) -> Starlette:
    """The ASGI application of ``host``; ``channels`` default to every registered one.

    Raises :class:`ServeError` when a channel reports problems (a missing secret).
    """
    channels = collect_channels(host.engine.pm) if channels is None else channels
    problems = [
        f"{name}: {problem}"
        for name, channel in channels.items()
        if channel.problems is not None
        for problem in channel.problems(host)
    ]
    if problems:
        raise ServeError("cannot start:\n" + "\n".join(problems))

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(host.engine.storage.schema_version)
        except Exception as exc:
            log.warning("readyz: the database does not answer: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    routes: list[Any] = [Route("/healthz", healthz), Route("/readyz", readyz)]
    for channel in channels.values():
        if channel.routes is not None:
            routes += list(channel.routes(host))
    from civic import console  # imported here, like the channels' routes

    routes += console.routes(host)
    senders = [channel for channel in channels.values() if channel.sender is not None]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        host.run_blocking = run_in_threadpool
        host.http = httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        stop = asyncio.Event()
        task = asyncio.create_task(delivery_loop(host, senders, stop))
        pending = asyncio.create_task(_inbox_loop(host, channels, stop))
        retention = host.config.retention
        purging = (
            asyncio.create_task(retention_loop(host, stop))
            if retention.daily and retention.configured
            else None
        )
        log.info("civic serve: channels %s", ", ".join(channels) or "none")
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                loops = [task, pending, *([purging] if purging else [])]
                await asyncio.wait_for(asyncio.gather(*loops), timeout=10)
            await host.http.aclose()
            host.engine.storage.close()

    from starlette.middleware import Middleware

    from civic.security_headers import SecurityHeaders

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders)])
    app.state.host = host
    return app


async def _inbox_loop(host: Host, channels: dict[str, Channel], stop: asyncio.Event) -> None:
    """Process again deliveries left unprocessed by a failure (the database was down)."""
    from civic.channels.inbox import RETRY_EVERY, process_pending

    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RETRY_EVERY.total_seconds())
        try:
            await host.call(process_pending, host, channels, RETRY_EVERY)
        except Exception:
            log.exception("inbox: processing pending deliveries failed")


#: When ``civic serve`` first purges after starting, then how often (LGPD art. 16).
RETENTION_FIRST = dt.timedelta(minutes=5)
RETENTION_EVERY = dt.timedelta(days=1)


async def retention_loop(
    host: Host,
    stop: asyncio.Event,
    *,
    first: dt.timedelta = RETENTION_FIRST,
    every: dt.timedelta = RETENTION_EVERY,
) -> None:
    """Apply the city's retention periods (:func:`civic.retention.purge`) ``first``
    after the start, then every ``every``, until ``stop``. Runs when ``[retention]`` sets
    a period and ``daily`` is not false; several workers may run it (each step skips
    what another did). Logs counts only, never what was purged."""
    from civic import retention

    wait = first
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait.total_seconds())
        if stop.is_set():
            return
        wait = every
        try:
            lines = await host.call(retention.purge, host.engine)
        except Exception:
            log.exception("retention: the purge failed; trying again in a day")
            continue
        done = ", ".join(f"{p.department} {p.kind} {p.count}" for p in lines if p.count)
        log.info("retention: purge done%s", f" ({done})" if done else ", nothing was due")


def app_from_environment() -> Starlette:
    """The app of one uvicorn worker, from ``CIVIC_CONFIG``, ``CIVIC_DATABASE_URL`` and
    ``CIVIC_DEVELOPMENT`` (``civic serve`` sets them for its workers)."""
    configure_logging()
    host = build_host(
        config_path=os.environ.get("CIVIC_CONFIG") or None,
        database_url=os.environ.get("CIVIC_DATABASE_URL") or None,
        development=os.environ.get(DEVELOPMENT_ENV) == "1",
    )
    return create_app(host)


_TOKEN = re.compile(r"(hub\.verify_token=|hub\.challenge=)[^&\s\"]+")


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, CPFs and phones masked here too (the filter masks
    them first; a handler added without it is still covered), the error included."""

    def format(self, record: logging.LogRecord) -> str:
        from civic import redaction

        message = record.getMessage()
        if record.name.startswith("uvicorn"):  # URLs: decoded, tokens dropped, then masked
            message = _TOKEN.sub(r"\1***", urllib.parse.unquote_plus(message))
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redaction.redact_line(message),
        }
        error = record.exc_text  # the filter's masked text, when it ran
        if not error and record.exc_info:
            error = self.formatException(record.exc_info)
        if error:
            entry["error"] = redaction.redact_line(error)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Structured logs on standard error, with CPFs and phone numbers masked."""
    from civic import redaction

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    redaction.install()


def static_file(name: str) -> Path:
    """A file shipped in ``civic/channels``."""
    return Path(__file__).parent / "channels" / name
