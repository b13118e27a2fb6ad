"""The WhatsApp channel: Meta's Cloud API webhook in, the Messages API out.

An adapter over the engine (no conversation logic here): every delivery is checked
(``X-Hub-Signature-256`` over the raw bytes, before anything is parsed or stored), stored
in the inbox, then each message is handed to the engine and each status to the outbox.
Formats are in :mod:`civic.channels.whatsapp_api`.

Settings (environment): ``CIVIC_WHATSAPP_APP_SECRET``, ``CIVIC_WHATSAPP_VERIFY_TOKEN``,
``CIVIC_WHATSAPP_ACCESS_TOKEN``, ``CIVIC_WHATSAPP_API_URL`` (the Graph API base URL with
its version). Which department each number serves comes from ``[whatsapp.numbers]`` in
``civic.toml``; a number not listed gets the menu.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from civic import failpoints
from civic.channels import Host, Outgoing, Sent
from civic.channels import inbox as inbox_module
from civic.channels import whatsapp_api as api
from civic.values import Inbound, Media

log = logging.getLogger(__name__)

NAME = "whatsapp"
PATH = "/webhooks/whatsapp"
#: Larger bodies are refused (413): Meta's deliveries are a few KB.
BODY_LIMIT = 1024 * 1024
DEFAULT_API_URL = "https://graph.facebook.com/v23.0"
#: How long the webhook waits for the database to store a delivery before answering 503
#: (Meta retries): far less than Meta's own request timeout, far more than a store takes.
STORE_WAIT = 5.0
#: What civic puts before the outbox id in ``biz_opaque_callback_data``.
CALLBACK_PREFIX = "civic:"


def setting(name: str) -> str:
    return os.environ.get(f"CIVIC_WHATSAPP_{name}", "").strip()


def problems(host: Host) -> list[str]:
    """Why the channel cannot start: no app secret means no way to check deliveries."""
    if host.development:
        return []
    found = []
    if not setting("APP_SECRET"):
        found.append(
            "CIVIC_WHATSAPP_APP_SECRET is not set: deliveries could not be checked "
            "(set it, or start with --dev for development only)"
        )
    if not setting("ACCESS_TOKEN"):
        found.append("CIVIC_WHATSAPP_ACCESS_TOKEN is not set: replies could not be sent")
    return found


def numbers(host: Host) -> Mapping[str, str]:
    """``phone_number_id`` → department slug, from ``[whatsapp.numbers]``."""
    return host.config.whatsapp_numbers


# -- in ---------------------------------------------------------------------------------


def process(host: Host, body: bytes) -> list[str]:
    """Handle one stored delivery: messages to the engine, statuses to the outbox.
    Returns the reasons of the parts civic could not understand (a dead letter)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return [f"not JSON: {type(exc).__name__}"]
    reasons: list[str] = []
    for event in api.parse_delivery(payload):
        if isinstance(event, api.Unreadable):
            reasons.append(event.reason)
        elif isinstance(event, api.StatusUpdate):
            with host.engine.storage.transaction() as tx:
                tx.apply_status(
                    NAME,
                    event.message_id[:128],
                    event.status[:16],
                    host.engine.clock(),
                    event.error,
                    outbox_id=outbox_of(event.callback),
                )
        elif isinstance(event, api.IncomingMessage):
            reason = _message(host, event)
            if reason:
                reasons.append(reason)
    return reasons


def outbox_of(callback: str | None) -> int | None:
    """The outbox id civic put in a message's ``biz_opaque_callback_data``
    (``civic:<id>``); ``None`` for anything else."""
    if not callback or not callback.startswith(CALLBACK_PREFIX):
        return None
    digits = callback[len(CALLBACK_PREFIX) :]
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)


def sender(payload: object) -> str | None:
    """The citizen whose messages a delivery holds, when they are all one citizen's
    (their address, as the engine gets it): the inbox processes one sender's deliveries
    in order. ``None`` for statuses alone, several citizens, or nothing readable."""
    found = {
        event.address[:128]
        for event in api.parse_delivery(payload)
        if isinstance(event, api.IncomingMessage)
    }
    return found.pop() if len(found) == 1 else None


def _message(host: Host, event: api.IncomingMessage) -> str | None:
    if event.kind == "system":
        return None  # a changed number or id: nothing the citizen wrote
    address = event.address
    if not address:
        return f"message {event.message_id} has no sender"
    department = numbers(host).get(event.account)
    if department is not None and host.engine.registry.get(department) is None:
        department = None  # the number's department is not enabled: the menu
    media = None
    if event.text is None:
        media = Media(kind=event.kind, id=event.media_id, caption=event.caption)
    now = host.engine.clock()
    # Meta's clock is trusted only up to ours: a message "from the future" is now.
    received = min(event.timestamp, now) if event.timestamp else None
    inbound = Inbound(
        channel=NAME,
        address=address[:128],
        text=event.text if event.text is not None else (event.caption or ""),
        channel_message_id=event.message_id[:128],
        received_at=received,
        pinned_department=department,
        channel_data={"account": event.account, "phone": event.phone},
        media=media,
    )
    from civic.engine import InvalidInbound

    try:
        host.engine.handle(inbound)
    except InvalidInbound as exc:
        return f"message {event.message_id}: {exc}"
    return None


async def _process_stored(
    host: Host, inbox_id: int, held: bool, body: bytes, citizen: str | None
) -> None:
    """Process a delivery the webhook stored and acknowledged (never raises)."""
    failpoints.hit("after_inbox_store")
    try:
        status = await host.call(
            inbox_module.process_stored, host, NAME, inbox_id, held, body, process, citizen
        )
    except Exception:  # stored: the inbox loop processes it again
        log.exception("whatsapp: delivery %s: processing failed", inbox_id)
        return
    log.info("whatsapp: delivery %s %s", inbox_id, status)


def routes(host: Host) -> Sequence[Any]:
    """``GET`` (the verification handshake) and ``POST`` (deliveries) on the webhook."""
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def verify(request: Request) -> Response:
        challenge = api.verification_response(
            dict(request.query_params), setting("VERIFY_TOKEN") or "\0unset"
        )
        if challenge is None:
            return PlainTextResponse("forbidden", status_code=403)
        return PlainTextResponse(challenge)

    async def deliver(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > BODY_LIMIT:
            return PlainTextResponse("too large", status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > BODY_LIMIT:
                return PlainTextResponse("too large", status_code=413)
        secret = setting("APP_SECRET")
        signature = request.headers.get("x-hub-signature-256")
        if (secret or not host.development) and not api.verify_signature(body, signature, secret):
            log.warning("whatsapp: delivery refused: missing or bad signature")
            return PlainTextResponse("bad signature", status_code=401)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:
            log.warning("whatsapp: delivery refused: malformed JSON: %s", exc)
            return PlainTextResponse("malformed JSON", status_code=400)
        citizen = inbox_module.usable_sender(sender(payload))
        try:
            inbox_id, held = await host.call(
                inbox_module.store, host, NAME, body, citizen, wait=STORE_WAIT
            )
        except Exception as exc:  # not stored, so not acknowledged: Meta sends it again
            log.error("whatsapp: delivery not stored, answered 503: %s", type(exc).__name__)
            return PlainTextResponse(
                "database unavailable", status_code=503, headers={"Retry-After": "5"}
            )
        # Stored: acknowledged now, whatever happens next. It is processed right after
        # the answer is sent (a crash before is made good by the inbox loop).
        later = BackgroundTask(_process_stored, host, inbox_id, held, body, citizen)
        return PlainTextResponse("ok", background=later)

    return [
        Route(PATH, verify, methods=["GET"]),
        Route(PATH, deliver, methods=["POST"]),
    ]


# -- out --------------------------------------------------------------------------------


async def send(host: Host, outgoing: Outgoing) -> Sent:
    """Send one outbox message from the number the citizen wrote to."""
    data = outgoing.channel_data
    account = str(data.get("account") or "")
    if not account:
        return Sent(ok=False, error="no WhatsApp number to send from", retry=False)
    to = str(data.get("phone") or outgoing.address)
    reply = outgoing.delivery.reply
    last = _time(data.get("last_inbound_at"))
    now = host.engine.clock()
    if not api.within_service_window(last, now):
        template = host.config.whatsapp_template
        if not template:
            return Sent(
                ok=False,
                retry=False,
                error="outside the 24-hour customer service window: only a template may "
                "be sent ([whatsapp] template in civic.toml)",
            )
        bodies = [api.render_template(template, host.config.whatsapp_language, to=to)]
    else:
        choices = [(c.value, c.label) for c in reply.choices]
        if reply.scale is not None and not choices:
            low, high = reply.scale
            choices = [(str(n), str(n)) for n in range(low, high + 1)]
        bodies = api.render_reply(reply.text, choices, to=to)
    if not bodies:
        return Sent(ok=True, provider_id=None)
    base = (setting("API_URL") or DEFAULT_API_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {setting('ACCESS_TOKEN')}"}
    provider_id = None
    # The last body names the outbox row: its status says the whole reply went out, even
    # when civic died before recording it (civic.delivery: exactly once).
    callback = f"{CALLBACK_PREFIX}{outgoing.delivery.id}"
    bodies[-1] = {**bodies[-1], "biz_opaque_callback_data": callback}
    for body in bodies:
        try:
            response = await host.http.post(
                f"{base}/{account}/messages", json=body, headers=headers
            )
        except Exception as exc:  # the network: try again later
            return Sent(ok=False, error=f"{type(exc).__name__}: {exc}")
        if response.status_code >= 400:
            retry = response.status_code >= 500 or response.status_code == 429
            return Sent(
                ok=False, error=f"HTTP {response.status_code}: {response.text[:300]}", retry=retry
            )
        with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
            provider_id = provider_id or response.json()["messages"][0]["id"]
    return Sent(ok=True, provider_id=provider_id)


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None
