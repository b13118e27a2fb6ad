"""Frozen values that cross a hook boundary.

Plugins receive and return these; they never see a database session. Everything a
conversation needs to go on lives in storage, so these are snapshots, not live objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import attrs


@attrs.frozen
class Choice:
    """One numbered option shown to the citizen (``value`` is what they may type)."""

    value: str
    label: str


@attrs.frozen
class Identity:
    """A citizen identified from a message: the name and the 11 CPF digits."""

    name: str
    cpf: str = attrs.field(repr=False)  # never log a CPF in clear


@attrs.frozen
class NotIdentified:
    """An identification attempt that failed; ``reason`` is shown to the citizen."""

    reason: str


@attrs.frozen
class Topic:
    """Something a department can do, shown as an entry of its menu.

    Exactly one of ``answer`` (a free answer), ``form`` (the name of one of the
    department's forms) or ``handover`` (pass the conversation to a human) says what
    choosing it does. ``keywords`` let the citizen reach it without the number.

    ``key`` names the topic in the text catalogue: a city overrides its title with the
    text ``<slug>.topics.<key>`` and its answer with ``<slug>.topics.<key>.answer``.
    """

    title: str
    keywords: tuple[str, ...] = ()
    answer: str | None = None
    form: str | None = None
    handover: bool = False
    key: str | None = None


@attrs.frozen
class Department:
    """A department registered by a plugin through ``register_departments``.

    :param slug: short stable identifier (``procon``), used in URLs, options and storage.
    :param name: the name citizens know (``PROCON``).
    :param description: one line shown in the main menu.
    :param keywords: words that route a free-text message to this department.
    :param greeting: the text shown when the citizen enters the department.
    :param topics: the department's own menu.
    :param forms: JSON Schema forms by name (see ``civic.forms``).
    :param protocol_prefix: prefix of the protocol numbers its forms yield.
    :param order: position in the main menu (lower first; ties by name).
    :param form_warnings: per form, per field: ``warn(value, answers)`` called when the
        field is answered; a returned sentence is shown to the citizen, and the answer is
        still accepted (warn, never block). A ``warn`` that accepts a third argument also
        gets the city's date of the message (``today``): never read the clock yourself;
        one with a parameter named ``texts`` gets the city's texts (say its sentences
        through them, so a city rewords them in ``[texts]``).
    :param identification: whether the citizen must give name and CPF before being served
        (``False`` for an ombudsman's anonymous report or general information).
    :param deadline_days: the days the department takes, at most, to answer a protocol
        (Lei 13.460/2017 art. 16 gives an ombudsman 30); reports count the protocols
        answered within it (art. 23). A city overrides it in ``civic.toml``
        (``[departments.<slug>] deadline_days``); ``None`` declares none.
    :param settings_schema: a JSON Schema (Draft 2020-12) of the settings the plugin reads
        from the city's ``[departments.<slug>]`` section, the keys the core reads itself
        (``contacts``, ``hours``, ``keywords``, ``deadline_days``) left out. ``civic config
        check`` and the engine's start check the section against it (a TOML date is a
        ``{"format": "date"}``); with ``"additionalProperties": false`` a key the plugin
        does not read is reported as unknown. ``None`` checks nothing (see
        ``docs/plugin_settings.md``).
    """

    slug: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    greeting: str = ""
    topics: tuple[Topic, ...] = ()
    forms: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    protocol_prefix: str = ""
    order: int = 100
    form_warnings: Mapping[str, Mapping[str, Callable[[Any, Mapping[str, Any]], str | None]]] = (
        attrs.field(factory=dict)
    )
    identification: bool = True
    deadline_days: int | None = None
    settings_schema: Mapping[str, Any] | None = None

    @property
    def prefix(self) -> str:
        return (self.protocol_prefix or self.slug).upper()


@attrs.frozen
class Conversation:
    """A read-only snapshot of a conversation, as plugins see it."""

    id: int
    channel: str
    address: str
    state: str
    department: str | None
    pinned_department: str | None
    citizen_id: int | None
    citizen_name: str | None
    opened_at: dt.datetime
    context: Mapping[str, Any] = attrs.field(factory=dict)
    agent: str | None = None


@attrs.frozen
class Media:
    """Something a citizen sent that is not text: an image, audio, a location...

    ``kind`` is the channel's type (``image``, ``audio``, ``location``); ``id`` the
    channel's media id, to fetch it later; ``caption`` any text that came with it.
    """

    kind: str
    id: str | None = None
    caption: str | None = None


@attrs.frozen
class Inbound:
    """A message from a citizen as a channel delivers it.

    ``channel_message_id`` is the channel's own id; a message whose id was already seen on
    the same channel is ignored, since channels retry deliveries. ``channel_data`` is
    what the channel needs to answer later (kept with the conversation: for WhatsApp, the
    number written to and the phone); ``media`` what was sent besides text.
    """

    channel: str
    address: str
    text: str
    channel_message_id: str | None = None
    received_at: dt.datetime | None = None
    pinned_department: str | None = None
    channel_data: Mapping[str, Any] | None = None
    media: Media | None = None


@attrs.frozen
class Reply:
    """A message from civic to the citizen.

    ``scale`` marks a score question (``(0, 10)``): a channel with buttons may offer each
    score to tap; a typed score works everywhere.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    scale: tuple[int, int] | None = None


@attrs.frozen
class Answer:
    """A department's free answer. ``done=True`` means the citizen's request is complete
    and civic should offer further help."""

    text: str
    choices: tuple[Choice, ...] = ()
    done: bool = False


@attrs.frozen
class StartForm:
    """Ask civic to run one of the department's forms, optionally after ``text``."""

    form: str
    text: str = ""


@attrs.frozen
class HandOver:
    """Pass the conversation to the department's human team, after ``text``."""

    text: str = ""


DepartmentAction = Answer | StartForm | HandOver


@attrs.frozen
class Delivery:
    """A message in the outbox: what to send, who wrote it, and how far it got.

    :param id: the outbox id a channel reports the delivery status with.
    :param author: ``bot``, ``agent`` (an attendant, named in ``agent``) or ``system``
        (a notice: transfer, expiry).
    :param status: ``pending``, ``sent``, ``delivered``, ``read`` or ``failed``.
    """

    id: int
    reply: Reply
    author: str = "bot"
    agent: str | None = None
    status: str = "pending"
    conversation_id: int | None = None


@attrs.frozen
class Outcome:
    """What the engine did with one inbound message.

    ``deliveries`` are the outbox entries of ``replies``; a channel sends those still
    ``pending``. A duplicate inbound returns the replies stored the first time.
    """

    conversation_id: int | None
    state: str
    department: str | None
    replies: tuple[Reply, ...]
    duplicate: bool = False
    deliveries: tuple[Delivery, ...] = ()
