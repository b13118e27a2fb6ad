"""The WhatsApp Cloud API's formats, as pure functions: no HTTP, no database.

What Meta sends us (webhook deliveries, their signature, the endpoint's verification)
and what we send Meta (the bodies of ``POST /<PHONE_NUMBER_ID>/messages``). Every rule
names the Meta document it comes from; the pages live under
``https://developers.facebook.com/documentation/business-messaging/whatsapp/`` (written
``…/whatsapp/`` below) unless a full address is given.

Lengths are counted in UTF-16 code units (an emoji outside the Basic Multilingual Plane
counts two): Meta gives its limits in "characters" without saying which, and this is the
stricter of the two readings, so a body within it is within either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import attrs

# --- Limits -------------------------------------------------------------------------

TEXT_BODY = 4096  # …/whatsapp/messages/text-messages: "Maximum 4096 characters"
INTERACTIVE_BODY = 1024  # …/messages/interactive-reply-buttons-messages (body text)
BUTTONS = 3  # …/messages/interactive-reply-buttons-messages: "maximum 3"
BUTTON_TITLE = 20  # same page: button label text, unique within the message
BUTTON_ID = 256  # same page: button ID
ROWS = 10  # …/messages/interactive-list-messages: "up to 10 rows for all sections"
ROW_TITLE = 24  # same page: row title
ROW_DESCRIPTION = 72  # same page: row description
ROW_ID = 200  # same page: row ID
LIST_BUTTON = 20  # same page: the button that opens the list
SERVICE_WINDOW = dt.timedelta(hours=24)  # …/messages/send-messages: customer service window

ELLIPSIS = "…"

# …/whatsapp/business-scoped-user-ids: a BSUID is an ISO 3166 alpha-2 country code, a
# period and up to 128 alphanumerics (US.13491208655302741918); a parent BSUID has ENT
# between them (US.ENT.11815799212886844830). A phone number (wa_id) is digits only.
_BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[0-9A-Za-z]{1,128}")

# --- Events -------------------------------------------------------------------------


@attrs.frozen
class IncomingMessage:
    """A message a citizen sent the city's number (…/webhooks/reference/messages).

    :param account: the city's number that received it (``metadata.phone_number_id``).
    :param message_id: WhatsApp's id of the message (``wamid.…``), unique per message.
    :param user_id: the citizen's business-scoped user id (BSUID) from
        ``contacts[].user_id`` / ``messages[].from_user_id``, sent since 2026.
    :param phone: the citizen's number (``wa_id`` / ``from``); absent for a citizen who
        adopted a username and whose number Meta does not share.
    :param name: the citizen's WhatsApp profile name (``contacts[].profile.name``).
    :param kind: the message ``type`` as Meta names it: ``text``, ``interactive``,
        ``button``, ``image``, ``audio``, ``video``, ``document``, ``sticker``,
        ``location``, ``contacts``, ``reaction``, ``system``, ``unsupported``…
    :param text: what the engine reads: the text's body; for a tapped reply button or
        list row, its **id** (the choice's value, see :func:`render_reply`); for a
        template's quick-reply ``button``, its payload (else its text); ``None`` for
        media, locations, reactions and the rest.
    :param media_id: the media's id for ``GET /<MEDIA_ID>`` (image, audio, video,
        document, sticker).
    :param caption: the caption of an image, video or document.
    :param timestamp: when WhatsApp received it (aware, UTC).
    :param raw: the message object exactly as delivered.
    """

    account: str
    message_id: str
    user_id: str | None
    phone: str | None
    name: str | None
    kind: str
    text: str | None
    media_id: str | None
    caption: str | None
    timestamp: dt.datetime | None
    raw: Mapping[str, Any] = attrs.field(repr=False, hash=False)

    @property
    def address(self) -> str:
        """The citizen's address in civic: the BSUID when there is one, else the phone.

        A BSUID never changes while the citizen keeps their number, and it is the only
        identifier of a citizen with a username (…/whatsapp/business-scoped-user-ids).
        """
        address = self.user_id or self.phone
        assert address is not None  # parse_delivery never builds one without either
        return address


@attrs.frozen
class StatusUpdate:
    """What happened to a message civic sent (…/webhooks/reference/messages/status).

    :param status: ``sent``, ``delivered``, ``read`` or ``failed``; others (``played``,
        ``deleted``…) are kept as Meta names them.
    :param recipient: the citizen, in the same terms as :attr:`IncomingMessage.address`:
        ``recipient_user_id`` (BSUID) when present, else ``recipient_id`` (phone).
    :param error: for a failure, ``errors[0]`` as one line: code, title, message, details.
    :param callback: the ``biz_opaque_callback_data`` civic sent with the message, echoed.
    """

    account: str
    message_id: str
    status: str
    recipient: str | None
    timestamp: dt.datetime | None
    error: str | None
    callback: str | None = None


@attrs.frozen
class Unreadable:
    """A part of a delivery civic cannot understand, kept for the dead-letter table.

    :param fragment: the smallest piece that explains it (a non-object is wrapped as
        ``{"json": value}``); ``None`` when nothing was delivered.
    """

    reason: str
    fragment: Mapping[str, Any] | None = attrs.field(hash=False)


Event: TypeAlias = IncomingMessage | StatusUpdate | Unreadable

# --- Webhook security ---------------------------------------------------------------


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``X-Hub-Signature-256: sha256=<hex>`` signs ``raw_body`` with the app secret.

    Meta signs every delivery with HMAC-SHA256 keyed by the app secret
    (…/webhooks/create-webhook-endpoint; https://developers.facebook.com/docs/graph-api/
    webhooks/getting-started, "Validate payloads"). It signs the bytes it sends, which
    escape non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/``: so check the raw body, never a
    re-serialisation. A missing or malformed header, or an empty secret, is ``False``.
    """
    if not isinstance(header, str) or not app_secret:
        return False
    scheme, _, digest = header.strip().partition("=")
    if scheme.lower() != "sha256" or len(digest) != 64:
        return False
    if not all(c in string.hexdigits for c in digest):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest.lower())


def verification_response(params: Mapping[str, str], verify_token: str) -> str | None:
    """The body answering Meta's ``GET`` that verifies the webhook endpoint, or ``None``.

    Meta sends ``hub.mode=subscribe``, ``hub.challenge`` and the ``hub.verify_token``
    configured in the App Dashboard; the endpoint answers the challenge when the token
    matches (…/webhooks/create-webhook-endpoint). Compared in constant time.
    """
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if mode != "subscribe" or not verify_token or not isinstance(token, str):
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return challenge if isinstance(challenge, str) and challenge else None


# --- Deliveries ---------------------------------------------------------------------


def parse_delivery(payload: object) -> list[Event]:
    """Every event of one webhook delivery, in order; never raises, whatever the JSON.

    A delivery is ``{"object": "whatsapp_business_account", "entry": [{"changes":
    [{"field": "messages", "value": {...}}]}]}``; one may batch several entries, changes,
    messages and statuses (…/webhooks/reference/messages). Anything else, or any piece
    that does not have the documented shape, becomes an :class:`Unreadable`.
    """
    if not isinstance(payload, Mapping):
        return [Unreadable("the delivery is not a JSON object", _fragment(payload))]
    if payload.get("object") != "whatsapp_business_account":
        return [Unreadable(f"object is {payload.get('object')!r}", payload)]
    entries = payload.get("entry")
    if not isinstance(entries, list):
        return [Unreadable("the delivery has no entry list", payload)]
    events: list[Event] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        if not isinstance(changes, list):
            events.append(Unreadable("an entry without a changes list", _fragment(entry)))
            continue
        for change in changes:
            events.extend(_parse_change(change))
    return events


def _parse_change(change: object) -> list[Event]:
    """The events of one ``changes[]`` item of field ``messages``."""
    if not isinstance(change, Mapping):
        return [Unreadable("a change that is not an object", _fragment(change))]
    if change.get("field") != "messages":
        return [Unreadable(f"a change of field {change.get('field')!r}", change)]
    value = change.get("value")
    metadata = value.get("metadata") if isinstance(value, Mapping) else None
    account = _text(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else None
    if not isinstance(value, Mapping) or account is None:
        return [Unreadable("a change without value.metadata.phone_number_id", change)]
    contacts = [c for c in _list(value.get("contacts")) if isinstance(c, Mapping)]
    events: list[Event] = []
    for key, parse in (("messages", _parse_message), ("statuses", _parse_status)):
        items = value.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            events.append(Unreadable(f"value.{key} is not a list", value))
            continue
        events.extend(parse(item, account, contacts) for item in items)
    if "errors" in value:  # …/webhooks/reference/messages/errors: app or account problems
        events.append(Unreadable(f"WhatsApp error: {_error(value.get('errors'))}", value))
    if not events:
        events.append(Unreadable("a change with no messages, statuses or errors", value))
    return events


def _parse_message(message: object, account: str, contacts: list[Mapping[str, Any]]) -> Event:
    """One ``messages[]`` item (…/webhooks/reference/messages and its per-type pages)."""
    if not isinstance(message, Mapping):
        return Unreadable("a message that is not an object", _fragment(message))
    message_id = _text(message.get("id"))
    if message_id is None:
        return Unreadable("a message without an id", message)
    phone = _text(message.get("from"))
    user_id = _text(message.get("from_user_id"))
    contact = _contact(contacts, phone, user_id)
    user_id = user_id or _text(contact.get("user_id"))
    phone = phone or _text(contact.get("wa_id"))
    if user_id is None and phone is None:
        return Unreadable("a message without a sender (from, from_user_id)", message)
    profile = contact.get("profile")
    kind = _text(message.get("type")) or "unsupported"
    content = message.get(kind)
    content = content if isinstance(content, Mapping) else {}
    media = kind in {"image", "audio", "video", "document", "sticker"}
    return IncomingMessage(
        account=account,
        message_id=message_id,
        user_id=user_id,
        phone=phone,
        name=_text(profile.get("name")) if isinstance(profile, Mapping) else None,
        kind=kind,
        text=_engine_text(kind, content),
        media_id=_text(content.get("id")) if media else None,
        caption=_text(content.get("caption")) if media else None,
        timestamp=_timestamp(message.get("timestamp")),
        raw=message,
    )


def _contact(
    contacts: list[Mapping[str, Any]], phone: str | None, user_id: str | None
) -> Mapping[str, Any]:
    """The ``contacts[]`` item of a message's sender: matched by BSUID or phone, else
    the only one there is (system messages carry none: …/reference/messages/system)."""
    for contact in contacts:
        if (user_id and contact.get("user_id") == user_id) or (
            phone and contact.get("wa_id") == phone
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _engine_text(kind: str, content: Mapping[str, Any]) -> str | None:
    """What the engine reads of a message: see :attr:`IncomingMessage.text`."""
    if kind == "text":
        return _text(content.get("body"))
    if kind == "interactive":  # …/reference/messages/interactive
        reply = content.get(str(content.get("type")))
        if content.get("type") in {"button_reply", "list_reply"} and isinstance(reply, Mapping):
            return _text(reply.get("id")) or _text(reply.get("title"))
        return None
    if kind == "button":  # …/reference/messages/button: a template's quick-reply button
        return _text(content.get("payload")) or _text(content.get("text"))
    return None


def _parse_status(status: object, account: str, _contacts: object) -> Event:
    """One ``statuses[]`` item (…/webhooks/reference/messages/status)."""
    if not isinstance(status, Mapping):
        return Unreadable("a status that is not an object", _fragment(status))
    message_id = _text(status.get("id"))
    state = _text(status.get("status"))
    if message_id is None or state is None:
        return Unreadable("a status without id or status", status)
    errors = status.get("errors")
    return StatusUpdate(
        account=account,
        message_id=message_id,
        status=state,
        recipient=_text(status.get("recipient_user_id")) or _text(status.get("recipient_id")),
        timestamp=_timestamp(status.get("timestamp")),
        error=_error(errors) if errors else None,
        callback=_text(status.get("biz_opaque_callback_data")),
    )


def _error(errors: object) -> str:
    """``errors[0]`` as one line: ``131047 Re-engagement message: <message> (<details>)``."""
    first = errors[0] if isinstance(errors, list) and errors else errors
    if not isinstance(first, Mapping):
        return "unknown error"
    code, title, message = first.get("code"), first.get("title"), first.get("message")
    data = first.get("error_data")
    details = data.get("details") if isinstance(data, Mapping) else None
    head = " ".join(str(part) for part in (code, title) if part not in (None, ""))
    parts = [head] if head else []
    parts += [str(m) for m in (message, details) if m not in (None, "") and m != title]
    return ": ".join(parts) or "unknown error"


def _timestamp(value: object) -> dt.datetime | None:
    """Unix seconds (Meta sends a string of digits) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _text(value: object) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _fragment(value: object) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    return {"json": value}


# --- Sending ------------------------------------------------------------------------


def within_service_window(last_inbound: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether free-form messages may still be sent: less than 24 hours since the
    citizen's last message. Each message from the citizen restarts the 24-hour customer
    service window; once it closes only template messages may be sent
    (…/whatsapp/messages/send-messages, "Customer service windows";
    …/whatsapp/templates/overview)."""
    return last_inbound is not None and now - last_inbound < SERVICE_WINDOW


def render_template(
    name: str, language: str, *, to: str, parameters: Sequence[str] = ()
) -> dict[str, Any]:
    """The body sending the approved template ``name`` in ``language`` (``pt_BR``), its
    body's ``{{1}}``, ``{{2}}``… filled by ``parameters`` in order: the only kind of
    message allowed outside the service window (…/whatsapp/templates/overview;
    …/whatsapp/messages/template-messages)."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if parameters:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
        ]
    return {**_envelope(to), "type": "template", "template": template}


def render_reply(
    text: str,
    choices: Sequence[tuple[str, str]],
    *,
    to: str,
    button: str = "Escolher",
    prompt: str = "Escolha uma opção:",
    more: str = "Ou escolha:",
) -> list[dict[str, Any]]:
    """The Messages API bodies that send one civic reply, in order.

    ``choices`` are ``(value, label)``; a tapped button or row sends back its id, the
    value, which :func:`parse_delivery` hands to the engine as the message's text, so a
    tap and a typed value are the same answer.

    - no choices: ``text`` messages, split at paragraph, line or word breaks to stay
      within 4096 characters (…/messages/text-messages); nothing for an empty text;
    - 1 to 3 choices whose labels fit a reply button (20 characters, distinct): reply
      buttons, id = value, title = label (…/messages/interactive-reply-buttons-messages);
    - up to 10 choices: a list behind a ``button`` (``Escolher``), row id = value, row
      title = label, cut to 24 characters with "…" and then given whole (up to 72) as
      the row's description (…/messages/interactive-list-messages);
    - a score scale of 11 to 13 options (labels that are their own values, consecutive
      integers, as 0 to 10): the first ten in a list and the rest as reply buttons under
      ``more``, so every score is a tap away: 0–9 in the list, 10 as a button;
    - anything else (more options, values unfit for ids): the text with one numbered
      line per choice, ``"<value>. <label>"``, as civic writes a reply for channels
      without buttons (``civic.engine.render``); the citizen types the value.

    An interactive body holds at most 1024 characters and must not be empty: a longer
    ``text`` goes first as text messages, and an empty one, with the interactive, says
    ``prompt``. The recipient is ``to`` for a phone number and ``recipient`` for a BSUID
    (…/whatsapp/business-scoped-user-ids).
    """
    items = [(value, " ".join(label.split())) for value, label in choices]
    if not items:
        return _texts(text, to)
    if len(items) <= BUTTONS and _buttonable(items):
        lead, body = _lead(text, to, prompt)
        return [*lead, _buttons(body, items, to)]
    if len(items) <= ROWS and _listable(items):
        lead, body = _lead(text, to, prompt)
        return [*lead, _list_message(body, items, to, button)]
    rest = items[ROWS:]
    if _scale(items) and len(rest) <= BUTTONS and _buttonable(rest):
        lead, body = _lead(text, to, prompt)
        last = _fit(more.strip(), INTERACTIVE_BODY) or ELLIPSIS
        return [*lead, _list_message(body, items[:ROWS], to, button), _buttons(last, rest, to)]
    lines = [text] if text.strip() else []
    lines += [f"{value}. {label}" for value, label in choices]
    return _texts("\n".join(lines), to)


def _envelope(to: str) -> dict[str, Any]:
    """What every Messages API body starts with. Meta's 2026 BSUID change adds
    ``recipient`` for a BSUID or parent BSUID beside ``to`` for a phone number (when both
    are given ``to`` wins): …/whatsapp/business-scoped-user-ids."""
    key = "recipient" if _BSUID.fullmatch(to) else "to"
    return {"messaging_product": "whatsapp", "recipient_type": "individual", key: to}


def _texts(text: str, to: str) -> list[dict[str, Any]]:
    """``text`` as text messages, each within the text body limit."""
    return [
        {**_envelope(to), "type": "text", "text": {"body": chunk}}
        for chunk in _split(text, TEXT_BODY)
    ]


def _lead(text: str, to: str, prompt: str) -> tuple[list[dict[str, Any]], str]:
    """The text messages to send before an interactive one, and that one's body."""
    if text.strip() and _width(text) <= INTERACTIVE_BODY:
        return [], text
    return _texts(text, to), _fit(prompt.strip(), INTERACTIVE_BODY) or ELLIPSIS


def _buttons(body: str, items: list[tuple[str, str]], to: str) -> dict[str, Any]:
    buttons = [{"type": "reply", "reply": {"id": v, "title": label}} for v, label in items]
    interactive = {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}
    return {**_envelope(to), "type": "interactive", "interactive": interactive}


def _list_message(body: str, items: list[tuple[str, str]], to: str, button: str) -> dict[str, Any]:
    rows = []
    for value, label in items:
        shown = label or value
        row = {"id": value, "title": _shorten(shown, ROW_TITLE)}
        if row["title"] != shown:
            row["description"] = _shorten(shown, ROW_DESCRIPTION)
        rows.append(row)
    opener = _shorten(" ".join(button.split()), LIST_BUTTON) or "Escolher"
    action = {"button": opener, "sections": [{"rows": rows}]}
    interactive = {"type": "list", "body": {"text": body}, "action": action}
    return {**_envelope(to), "type": "interactive", "interactive": interactive}


def _buttonable(items: list[tuple[str, str]]) -> bool:
    """Labels that fit reply buttons (non-empty, short, distinct) and values fit for ids."""
    labels = [label for _, label in items]
    return (
        all(0 < _width(label) <= BUTTON_TITLE for label in labels)
        and len(set(labels)) == len(labels)
        and _ids(items, BUTTON_ID)
    )


def _listable(items: list[tuple[str, str]]) -> bool:
    return _ids(items, ROW_ID)


def _ids(items: list[tuple[str, str]], limit: int) -> bool:
    """Values usable as ids: non-empty, within ``limit``, distinct."""
    values = [value for value, _ in items]
    return all(0 < _width(v) <= limit for v in values) and len(set(values)) == len(values)


def _scale(items: list[tuple[str, str]]) -> bool:
    """Whether the choices are a score scale: each label is its own value, and the
    values are consecutive integers, up or down (``0`` … ``10`` or ``10`` … ``0``). A
    menu numbered 1 to 11 is not one: its labels say what each number is."""
    values = [value for value, _ in items]
    if any(label != value or not re.fullmatch(r"-?[0-9]{1,6}", value) for value, label in items):
        return False
    numbers = [int(v) for v in values]
    return {b - a for a, b in itertools.pairwise(numbers)} in ({1}, {-1})


def _width(text: str) -> int:
    """Length in UTF-16 code units (see the module's docstring)."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _fit(text: str, limit: int) -> str:
    """The longest start of ``text`` within ``limit``."""
    width = 0
    for index, char in enumerate(text):
        width += 2 if ord(char) > 0xFFFF else 1
        if width > limit:
            return text[:index]
    return text


def _shorten(text: str, limit: int) -> str:
    """``text`` within ``limit``, ending in "…" when it had to be cut."""
    if _width(text) <= limit:
        return text
    return _fit(text, limit - 1).rstrip() + ELLIPSIS


def _split(text: str, limit: int) -> list[str]:
    """``text`` in pieces within ``limit``, cut at the last paragraph, line or word
    break of each piece's second half when there is one; blank text is no piece."""
    pieces = []
    rest = text.strip()
    while rest:
        head = _fit(rest, limit)
        if len(head) < len(rest):
            for mark in ("\n\n", "\n", " "):
                cut = head.rfind(mark)
                if cut >= len(head) // 2:
                    head = head[:cut]
                    break
        pieces.append(head.rstrip())
        rest = rest[len(head) :].lstrip()
    return pieces
