"""Frozen values that cross a hook boundary.

Plugins receive and return these; they never see a database session. Everything a
conversation needs to go on lives in storage, so these are snapshots, not live objects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

import attrs

T = TypeVar("T")

#: A department's slug: lower-case letters, digits, ``-`` or ``_``, at most 32.
SLUG = re.compile(r"[a-z][a-z0-9_-]{0,31}")
#: A department's protocol prefix: a letter, then letters, digits, ``-`` or ``_``.
PROTOCOL_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
#: A topic's catalogue key (``<slug>.topics.<key>``): no dots, so keys cannot clash.
TOPIC_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class ContractError(TypeError, ValueError):
    """A value a plugin built breaks civic's contract.

    Raised when the value is constructed, so the plugin's author sees it at once. The
    message names the value (``Department 'ouvidoria'``), the field and what to write
    instead. ``kind`` (``Department``), ``name`` (its slug or title, when it has one) and
    ``field`` are there for whoever records the problem.
    """

    def __init__(self, kind: str, name: str | None, field: str, problem: str) -> None:
        owner = f"{kind} {name!r}" if name else kind
        super().__init__(f"{owner}: {field} {problem}")
        self.kind = kind
        self.name = name
        self.field = field


def _name(instance: object) -> str | None:
    """How a message names the value being built: its slug, title or form, if a str."""
    for field in ("slug", "title", "form"):
        value = getattr(instance, field, None)
        if isinstance(value, str) and value:
            return value
    return None


def _shown(value: object) -> str:
    """``value`` as a message shows it: its type and a short repr."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _fail(instance: object, attribute: attrs.Attribute[Any], problem: str) -> NoReturn:
    raise ContractError(type(instance).__name__, _name(instance), attribute.name, problem)


def _as_tuple(value: tuple[T, ...] | list[T]) -> tuple[T, ...]:
    """A list given where a tuple is expected, as a tuple; anything else unchanged (the
    validator then says what is wrong with it)."""
    return tuple(value) if isinstance(value, list) else value


# One named converter per element type: mypy's attrs plugin types ``__init__`` from a
# converter's argument, and cannot solve a generic one's ``T``.
def _as_words(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return _as_tuple(value)


def _as_topics(value: tuple[Topic, ...] | list[Topic]) -> tuple[Topic, ...]:
    return _as_tuple(value)


def _as_choices(value: tuple[Choice, ...] | list[Choice]) -> tuple[Choice, ...]:
    return _as_tuple(value)


def _text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        _fail(instance, attribute, f"must be a str, not {_shown(value)}")


def _non_empty_text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _text(instance, attribute, value)
    if not str(value).strip():
        _fail(instance, attribute, "must not be empty")


def _optional_text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _non_empty_text(instance, attribute, value)


def _flag(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        _fail(instance, attribute, f"must be True or False, not {_shown(value)}")


def _words(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A tuple of words; a lone str is refused, never split into letters."""
    name = attribute.name
    if isinstance(value, str):
        _fail(
            instance,
            attribute,
            f"must be a tuple of words, not the str {value!r}: write {name}=({value!r},)",
        )
    if not isinstance(value, tuple):
        _fail(instance, attribute, f"must be a tuple of words, not {_shown(value)}")
    for word in value:
        if not isinstance(word, str) or not word.strip():
            _fail(instance, attribute, f"must hold non-empty str only, not {_shown(word)}")


def _tuple_of(kind: type, example: str) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """A validator of a tuple of ``kind``; a lone ``kind`` (a missing trailing comma) is
    refused with the fix."""

    def validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        name = attribute.name
        if isinstance(value, kind):
            _fail(
                instance,
                attribute,
                f"must be a tuple of {kind.__name__}, not a single {kind.__name__}: add the "
                f"trailing comma, {name}=({example},)",
            )
        if not isinstance(value, tuple):
            _fail(instance, attribute, f"must be a tuple of {kind.__name__}, not {_shown(value)}")
        for item in value:
            if not isinstance(item, kind):
                _fail(instance, attribute, f"must hold {kind.__name__} only, not {_shown(item)}")

    return validate


def _matches(
    pattern: re.Pattern[str], rule: str
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        _text(instance, attribute, value)
        if not pattern.fullmatch(str(value)):
            _fail(instance, attribute, f"{value!r} is not valid: {rule}")

    return validate


@attrs.frozen
class Choice:
    """One numbered option shown to the citizen (``value`` is what they may type)."""

    value: str = attrs.field(validator=_non_empty_text)
    label: str = attrs.field(validator=_text)


@attrs.frozen
class Identity:
    """A citizen identified from a message: the name and the 11 CPF digits (civic checks
    the digits before using them)."""

    name: str = attrs.field(validator=_text)
    cpf: str = attrs.field(repr=False, validator=_text)  # never log a CPF in clear


@attrs.frozen
class NotIdentified:
    """An identification attempt that failed; ``reason`` is shown to the citizen."""

    reason: str = attrs.field(validator=_non_empty_text)


@attrs.frozen
class Topic:
    """Something a department can do, shown as an entry of its menu.

    One of ``answer`` (a free answer), ``form`` (the name of one of the department's
    forms) or ``handover`` (pass the conversation to a human) says what choosing it does;
    with ``handover``, an ``answer`` is what the citizen is told first. A ``form`` with an
    ``answer`` or a ``handover`` is refused (one of them would be ignored). A topic with
    none is answered by its plugin's own ``department_message``: a department whose
    plugin has none is refused when registered. ``keywords`` (a tuple of words) let the
    citizen reach it without the number.

    ``key`` names the topic in the text catalogue: a city overrides its title with the
    text ``<slug>.topics.<key>`` and its answer with ``<slug>.topics.<key>.answer``
    (lower-case letters, digits, ``-`` or ``_``; unique in its department).

    ``then_form`` (with ``answer``): when the citizen *tells what happened* ("comprei uma
    geladeira e ela parou de funcionar") rather than asks ("qual o prazo para reclamar?"),
    the answer is said and this form starts, pre-filled with the story.

    Raises :class:`ContractError` when a field has the wrong type or value.
    """

    title: str = attrs.field(validator=_non_empty_text)
    keywords: tuple[str, ...] = attrs.field(default=(), converter=_as_words, validator=_words)
    answer: str | None = attrs.field(default=None, validator=_optional_text)
    form: str | None = attrs.field(default=None, validator=_optional_text)
    handover: bool = attrs.field(default=False, validator=_flag)
    key: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(
            _matches(TOPIC_KEY, "lower-case letters, digits, '-' or '_' (no dots)")
        ),
    )
    then_form: str | None = attrs.field(default=None, validator=_optional_text)

    def __attrs_post_init__(self) -> None:
        if self.form is not None and (self.answer is not None or self.handover):
            other = "an answer" if self.answer is not None else "handover=True"
            raise ContractError(
                "Topic",
                self.title,
                "form",
                f"{self.form!r} comes with {other}: a topic does one thing (a form, an "
                "answer, or a hand-over with an optional answer said first)",
            )

    @property
    def action(self) -> str | None:
        """What choosing the topic does: ``form``, ``handover``, ``answer``, or ``None``
        (its plugin answers it)."""
        if self.form is not None:
            return "form"
        if self.handover:
            return "handover"
        return "answer" if self.answer is not None else None


def _forms(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping):
        _fail(instance, attribute, f"must map form names to JSON Schemas, not {_shown(value)}")
    for name, schema in value.items():
        if not isinstance(name, str) or not name:
            _fail(instance, attribute, f"names must be non-empty str, not {_shown(name)}")
        if not isinstance(schema, Mapping):
            _fail(instance, attribute, f"[{name!r}] must be a JSON Schema (a dict), not "
                  f"{_shown(schema)}")  # fmt: skip


def _form_warnings(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping):
        _fail(instance, attribute, f"must map form names to {{field: warn}}, not {_shown(value)}")
    for form, fields in value.items():
        if not isinstance(fields, Mapping):
            _fail(instance, attribute, f"[{form!r}] must map field names to functions, not "
                  f"{_shown(fields)}")  # fmt: skip
        for field, warn in fields.items():
            if not callable(warn):
                _fail(instance, attribute, f"[{form!r}][{field!r}] must be a function, not "
                      f"{_shown(warn)}")  # fmt: skip


def _whole_number(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(instance, attribute, f"must be an int, not {_shown(value)}")


_PREFIX_RULE = "a letter, then letters, digits, '-' or '_', at most 32 (or '' for the slug)"


def _prefix(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value != "":
        _matches(PROTOCOL_PREFIX, _PREFIX_RULE)(instance, attribute, value)


def _deadline(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    _whole_number(instance, attribute, value)
    if isinstance(value, int) and value < 1:  # an int: _whole_number let it through
        _fail(instance, attribute, f"must be at least 1 day (or None), not {value!r}")


def _schema(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        _fail(instance, attribute, f"must be a JSON Schema (a dict) or None, not {_shown(value)}")


@attrs.frozen
class Processing:
    """What is done with citizens' personal data, and why: one entry of the controller's
    record of processing operations (LGPD art. 37), printed by ``civic privacy register``.

    :param purpose: why the data is processed (LGPD art. 6 I: a specific, explicit purpose).
    :param legal_basis: the hypothesis of LGPD art. 7 (or art. 11 for sensitive data) the
        processing rests on, with its item: a city answering its citizens usually rests on
        art. 7 III (execution of public policies) or art. 7 II (a legal duty), as art. 23
        asks of public bodies.
    :param data: the personal data collected, one item each (``("nome", "CPF")``).
    :param retention: how long it is kept and what happens then (art. 16: eliminated at
        the end of the processing, unless a law requires keeping it); the periods a city
        sets in ``[retention]`` are printed beside it.
    :param activity: the name of the operation (the department's name when empty).
    :param sharing: with whom the data is shared, if anyone (art. 9 V); ``""``: nobody.

    Raises :class:`ContractError` when a field has the wrong type or is empty.
    """

    purpose: str = attrs.field(validator=_non_empty_text)
    legal_basis: str = attrs.field(validator=_non_empty_text)
    data: tuple[str, ...] = attrs.field(converter=_as_words, validator=_words)
    retention: str = attrs.field(validator=_non_empty_text)
    activity: str = attrs.field(default="", validator=_text)
    sharing: str = attrs.field(default="", validator=_text)

    def __attrs_post_init__(self) -> None:
        if not self.data:
            raise ContractError(
                "Processing",
                self.activity or None,
                "data",
                'must name at least one kind of personal data, like data=("nome", "CPF")',
            )


def _processing(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Processing):
        _fail(
            instance,
            attribute,
            f"must be a Processing(purpose=..., legal_basis=..., data=..., retention=...) "
            f"or None, not {_shown(value)}",
        )


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

    Every field is checked when the value is built: a wrong type or value raises
    :class:`ContractError` naming the department and the field (``keywords="denuncia"``
    is refused, never split into letters; ``topics=(Topic(...))`` without its trailing
    comma is refused with the fix). What needs the other departments (a slug, name or
    protocol prefix already taken, a topic naming an unknown form) is checked when the
    department is registered (:func:`civic.departments.collect`).
    """

    slug: str = attrs.field(
        validator=_matches(SLUG, "lower-case letters, digits, '-' or '_', at most 32")
    )
    name: str = attrs.field(validator=_non_empty_text)
    description: str = attrs.field(default="", validator=_text)
    keywords: tuple[str, ...] = attrs.field(default=(), converter=_as_words, validator=_words)
    greeting: str = attrs.field(default="", validator=_text)
    topics: tuple[Topic, ...] = attrs.field(
        default=(), converter=_as_topics, validator=_tuple_of(Topic, "Topic(...)")
    )
    forms: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, validator=_forms)
    protocol_prefix: str = attrs.field(default="", validator=_prefix)
    order: int = attrs.field(default=100, validator=_whole_number)
    # ``warn(value, answers)``, optionally with ``today`` and ``texts``: see the docstring.
    form_warnings: Mapping[str, Mapping[str, Callable[..., str | None]]] = attrs.field(
        factory=dict, validator=_form_warnings
    )
    identification: bool = attrs.field(default=True, validator=_flag)
    deadline_days: int | None = attrs.field(default=None, validator=_deadline)
    settings_schema: Mapping[str, Any] | None = attrs.field(default=None, validator=_schema)
    processing: Processing | None = attrs.field(default=None, validator=_processing)

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

    text: str = attrs.field(validator=_text)
    choices: tuple[Choice, ...] = attrs.field(
        default=(), converter=_as_choices, validator=_tuple_of(Choice, "Choice(...)")
    )
    done: bool = attrs.field(default=False, validator=_flag)


@attrs.frozen
class StartForm:
    """Ask civic to run one of the department's forms, optionally after ``text``."""

    form: str = attrs.field(validator=_non_empty_text)
    text: str = attrs.field(default="", validator=_text)


@attrs.frozen
class HandOver:
    """Pass the conversation to the department's human team, after ``text``."""

    text: str = attrs.field(default="", validator=_text)


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
