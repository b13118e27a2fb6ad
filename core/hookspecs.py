"""Every hook civic calls, in the order a conversation meets them.

Plugins implement hooks with ``from civic import hookimpl``. An implementation may accept
any subset of a hook's arguments, so hooks can gain arguments without breaking plugins.
For ``firstresult`` hooks civic stops at the first non-``None`` result; implementations
run in reverse registration order, so an installed plugin is asked before the built-in
defaults and can override them. A hook implementation that raises is logged with its
plugin's name and skipped; the citizen never sees a traceback. So is a result of the
wrong type (``department_message`` returning a ``str``, ``protocol_number`` an ``int``):
it is logged with the plugin and the hook, and civic goes on as if that plugin had
returned ``None`` (``civic.plugins.RETURNS`` lists what each hook may return).

Two arguments recur: ``message`` is the citizen's message read once
(:class:`civic.reading.Reading`: normalised text, folded text, words, numbers, CPF
candidates), and ``now`` is the time of the message (an aware UTC datetime). Use them:
never fold the text again or read the clock yourself.

Hooks that *notify* (``conversation_*``) run after the transaction commits, one
implementation at a time: one that raises is logged with its plugin's name, the others
still run exactly once, and the message stays processed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from civic.values import (
    Conversation,
    Department,
    DepartmentAction,
    Identity,
    NotIdentified,
)

if TYPE_CHECKING:  # annotations only: importing civic (and so a plugin) stays cheap
    from civic.channels import Channel
    from civic.config import DepartmentConfig
    from civic.reading import Reading
    from civic.texts import Texts

hookspec = pluggy.HookspecMarker("civic")
hookimpl = pluggy.HookimplMarker("civic")


# -- registration -------------------------------------------------------------------


@hookspec
def register_departments(register: Callable[[Department], None]) -> None:
    """Register the departments this plugin provides.

    Called once when an engine (or a CLI command that lists departments) starts.

    :param register: call it with each :class:`civic.values.Department`. civic records the
        plugin that registered it. A department and its topics check their fields when
        built (``keywords="denuncia"`` instead of ``("denuncia",)`` raises
        :class:`civic.values.ContractError` naming the department and the field). A
        department whose slug, name or protocol prefix is already taken, whose topic names
        an unknown form, or whose forms are not valid civic forms is reported with the
        plugin's name and left out (see :mod:`civic.departments`); ``civic plugins
        check`` lists every problem, and departments sharing routing words.

    Collected: every plugin is called; the return value is ignored.

    Example::

        from civic import Department, Topic, hookimpl

        @hookimpl
        def register_departments(register):
            register(Department(
                slug="ouvidoria",
                name="Ouvidoria",
                description="Elogios, reclamações e sugestões sobre a prefeitura",
                keywords=("ouvidoria", "elogio", "sugestao"),
                topics=(Topic("Falar com a ouvidoria", key="human", handover=True),),
                identification=False,  # an ombudsman hears anonymous reports
                deadline_days=30,  # Lei 13.460/2017, art. 16
            ))
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``civic`` command line.

    Called once when the CLI starts, before arguments are parsed.

    :param cli: the :class:`typer.Typer` application; add commands with ``@cli.command()``.

    Collected: every plugin is called; the return value is ignored.

    Example::

        import typer
        from civic import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command(help="Say hello.")
            def hello(name: str):
                typer.echo(f"Olá, {name}!")
    """


@hookspec
def register_format_checkers(register: Callable[[str, Callable[[Any], bool]], None]) -> None:
    """Add JSON-Schema ``format`` checkers usable by every form (``cpf``, ``cep``...).

    Called once when the form validators are built.

    :param register: call ``register(name, check)``; ``check(value)`` returns whether
        the value conforms. A later registration of the same name replaces an earlier one.

    Collected: every plugin is called; the return value is ignored.

    Example::

        from civic import hookimpl

        def is_property_registration(value):
            # The city's property registration: 8 digits. A format says nothing of values
            # that are not strings (the field's "type" judges those).
            return not isinstance(value, str) or (len(value) == 8 and value.isdigit())

        @hookimpl
        def register_format_checkers(register):
            register("inscricao-imobiliaria", is_property_registration)
    """


@hookspec
def register_texts(register: Callable[[str], None]) -> None:
    """Register the packages that hold this plugin's citizen-facing texts.

    Called once when an engine (or ``civic config check``) starts.

    :param register: call it with a package name (usually ``__name__``); civic reads the
        package's ``locales/<locale>/*.json`` catalogues (``pt-BR`` first, then the city's
        locale). Keys start with the department's slug (``procon.next_steps``); a key under
        ``<slug>.words.`` holds a list of words. A city overrides any key in
        ``civic.toml``'s ``[texts]``, and the plugin reads them through the ``texts``
        argument of its hooks (``texts("procon.next_steps")``, ``texts.words(...)``).

    Collected: every plugin is called; the return value is ignored.

    Example::

        # civic_biblioteca/__init__.py, beside civic_biblioteca/locales/pt-BR/biblioteca.json:
        # {"biblioteca.renewed": "Renovação feita: devolva o livro até {date}."}
        from civic import hookimpl

        @hookimpl
        def register_texts(register):
            register(__name__)  # then, in any hook: texts("biblioteca.renewed", date="10/04")
    """


@hookspec
def register_channels(register: Callable[[Channel], None]) -> None:
    """Register the channels this plugin provides (WhatsApp, a web chat, SMS...).

    Called once when ``civic serve`` (or ``civic plugins``) starts.

    :param register: call it with each :class:`civic.channels.Channel`: its name, the
        HTTP routes it serves, the sender that delivers outbox messages, the settings it
        reads. A name registered twice keeps the first registration; the clash is logged
        with both plugins' names. Import your HTTP dependencies inside ``routes`` and
        ``sender``, not at module level, so ``civic --help`` stays fast.

    Collected: every plugin is called; the return value is ignored.

    Example::

        from civic import hookimpl
        from civic.channels import Channel, Sent

        async def send_sms(host, outgoing):
            response = await host.http.post(
                "https://sms.example.invalid/send",
                json={"to": outgoing.address, "text": outgoing.delivery.reply.text},
            )
            return Sent(ok=response.status_code == 200, error=response.text[:200], retry=True)

        @hookimpl
        def register_channels(register):
            register(Channel(name="sms", description="SMS", sender=send_sms))
    """


# -- identification -------------------------------------------------------------------


@hookspec(firstresult=True)
def identify_citizen(
    text: str, conversation: Conversation, texts: Texts, message: Reading
) -> Identity | NotIdentified | None:
    """Identify the citizen from a message, while the conversation is ``identifying``.

    Called for each citizen message until identification succeeds.

    :param text: the message as the citizen typed it (``Maria José 529.982.247-25``).
    :param conversation: the conversation so far.
    :param texts: the city's citizen-facing texts (``texts("cpf_missing")``).
    :param message: the message read once (``message.cpf``: the first valid CPF found).
        When civic retries with a name or CPF kept from an earlier message, ``text``
        holds both and ``message`` is the reading of that combined text.
    :return: an :class:`~civic.values.Identity` (name and CPF digits) when the message
        identifies the citizen; a :class:`~civic.values.NotIdentified` whose ``reason``
        tells the citizen what is missing or wrong; ``None`` to let another plugin try.

    firstresult: stops at the first non-``None`` result.

    Example::

        from civic import Identity, NotIdentified, hookimpl

        @hookimpl
        def identify_citizen(text, conversation, message):
            if conversation.channel != "intranet":
                return None  # let the built-in CPF identification try
            name = text.partition(";")[0].strip()  # the city's intranet sends "name;cpf"
            if not name or message.cpf is None:
                return NotIdentified("Envie nome e CPF separados por ponto e vírgula.")
            return Identity(name=name, cpf=message.cpf)
    """


# -- routing ------------------------------------------------------------------------


@hookspec(firstresult=True)
def route_message(
    text: str, departments: Sequence[Department], conversation: Conversation, message: Reading
) -> str | None:
    """Choose the department for a message, while the citizen is choosing one.

    Called for each citizen message in the ``choosing_department`` state, and for a
    message in ``offering_help`` that is not a plain yes or no.

    :param text: the citizen's message (a menu number, a name, or a sentence).
    :param departments: the enabled departments, in menu order (number 1 first).
    :param conversation: the conversation so far.
    :param message: the message read once (``message.folded``, ``message.words``).
    :return: the slug of the chosen department; a tuple of slugs when the message fits
        several equally (civic asks the citizen which, with a short question); or ``None``
        when the message does not
        decide (civic then shows the menu again).

    firstresult: stops at the first non-``None`` result.

    Example::

        from civic import hookimpl

        @hookimpl
        def route_message(departments, message):
            # "nota fiscal" is about a purchase: the PROCON, when the city enabled it
            if "nota fiscal" in message.folded and any(d.slug == "procon" for d in departments):
                return "procon"
            return None  # the built-in routing decides
    """


# -- inside a department ------------------------------------------------------------


@hookspec(firstresult=True)
def department_message(
    department: Department,
    text: str,
    conversation: Conversation,
    texts: Texts,
    settings: DepartmentConfig,
    message: Reading,
    now: dt.datetime,
) -> DepartmentAction | None:
    """Handle a citizen message inside a department.

    Called for each citizen message in the ``in_department`` state. Implementations
    should check ``department.slug`` and return ``None`` for departments they do not own.

    :param department: the department the citizen is in.
    :param text: the citizen's message.
    :param conversation: the conversation so far.
    :param texts: the city's citizen-facing texts.
    :param settings: the department's section of the city configuration: ``contacts``,
        ``hours`` and its plugin's own ``settings`` (for example the JSM's ``late_fine``).
    :param message: the message read once.
    :param now: the time of the message (aware, UTC): "today" is
        ``now.astimezone(ZoneInfo(settings.hours.timezone))`` or the city's zone.
    :return: an :class:`~civic.values.Answer` (a free answer; ``done=True`` moves on to
        offering further help), a :class:`~civic.values.StartForm` (run one of the
        department's forms), a :class:`~civic.values.HandOver` (wait for a human), or
        ``None`` when the plugin has nothing to say (civic shows the department's menu).

    firstresult: stops at the first non-``None`` result. The built-in ``topics`` plugin
    answers last, from the department's declared topics.

    Example::

        from civic import Answer, hookimpl

        @hookimpl
        def department_message(department, message, settings):
            if department.slug != "cac" or "iptu" not in message.words:
                return None  # not ours: the department's topics answer
            phone = settings.contacts.get("phone")
            if not phone:
                return None  # never invent a city's fact
            return Answer(f"Dúvidas sobre o IPTU: {phone}.", done=True)
    """


@hookspec
def form_submitted(
    department: Department,
    form: str,
    data: Mapping[str, Any],
    protocol: str,
    conversation: Conversation,
    now: dt.datetime,
    texts: Texts,
    settings: DepartmentConfig,
) -> str | None:
    """React to a form the citizen confirmed: notify a team, call another system...

    Called inside the message's transaction, after the submission is stored and its
    protocol number taken; if it raises, the submission is still kept.

    :param department: the department whose form it is.
    :param form: the form's name.
    :param data: the validated, normalised answers.
    :param protocol: the protocol number given to the citizen.
    :param conversation: the conversation.
    :param now: the time of the message that confirmed the form.
    :param texts: the city's citizen-facing texts (say your sentence through them, so a
        city can reword it).
    :param settings: the department's section of the city's configuration.
    :return: an optional sentence to add to the confirmation the citizen receives.

    Collected: every plugin is called; non-``None`` texts are all shown.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_procon_mail")

        @hookimpl
        def form_submitted(department, protocol, data, settings):
            if department.slug != "procon":
                return None
            log.info("complaint %s registered", protocol)  # never the answers: personal data
            email = settings.contacts.get("email")
            return f"Se precisar, escreva para {email} citando o protocolo." if email else None
    """


@hookspec(firstresult=True)
def protocol_number(department: Department, form: str, year: int, sequence: int) -> str | None:
    """Format the protocol number of a new submission.

    Called when a form is submitted, after civic took the next ``sequence`` for the
    department's prefix and ``year`` from the database (unique with any number of workers).

    :param department: the department whose form was submitted.
    :param form: the form's name.
    :param year: the current year.
    :param sequence: the next number for this prefix and year, from 1.
    :return: the protocol number, or ``None`` for the next plugin. The built-in plugin
        returns ``PROCON-2026-000123``. Any shape works (``OUV/2026/7``,
        ``2026.0007-OUV``): a number is ASCII letters and digits, in runs separated by
        spaces, ``-``, ``/``, ``.`` or ``_``, at most 64 characters, with at least 4
        letters and digits of which one is a digit (:mod:`civic.protocol_numbers`).
        Citizens asking for its status find it however they type it (case, spaces and
        separators do not matter). It must be unique, so build it from
        ``department.prefix``, ``year`` and ``sequence``: a number already taken is
        asked for again with the next sequence (logged with the plugin's name), then
        civic uses its default format; a number of the wrong shape is logged and
        replaced by the default format. The citizen always gets a number.

    firstresult: stops at the first non-``None`` result.

    Example::

        from civic import hookimpl

        @hookimpl
        def protocol_number(department, year, sequence):
            # The city's own numbering, 2026.0007-OUV: unique, as the prefix is the
            # department's; letters and digits with " -/._" between them are found
            # when the citizen asks.
            return f"{year}.{sequence:04d}-{department.prefix}"
    """


# -- closing survey and scoring -----------------------------------------------------


@hookspec(firstresult=True)
def score_rating(text: str, scale_min: int, scale_max: int, texts: Texts) -> int | str | None:
    """Read the score in the citizen's answer to the rating question.

    Called for each answer to "what score do you give, from 0 to 10?".

    :param text: what the citizen typed (``10``, ``nota 9``, ``dez``, ``9/10``).
    :param scale_min: the lowest score of the city's scale (0 or 1).
    :param scale_max: the highest score (10 or 5).
    :param texts: the city's citizen-facing texts.
    :return: the score as an ``int`` within the scale; the string ``"decline"`` when the
        citizen declines to rate; a string starting with ``"refuse:"`` followed by a
        sentence telling the citizen why the answer was not accepted; or ``None`` when
        the plugin cannot read the answer (civic asks again).

    firstresult: stops at the first non-``None`` result.

    Example::

        from civic import hookimpl

        @hookimpl
        def score_rating(text, scale_min, scale_max):
            stars = text.count("⭐")  # ⭐⭐⭐⭐ on a 0-10 scale is 8
            if not 1 <= stars <= 5:
                return None  # the built-in reader tries
            return max(scale_min, round(stars * scale_max / 5))
    """


# -- conversation lifecycle ---------------------------------------------------------


@hookspec
def conversation_opened(conversation: Conversation) -> None:
    """A new conversation was opened by a citizen's first message.

    Called after the message's transaction is committed.

    :param conversation: the new conversation.

    Collected: every plugin is called; the return value is ignored.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_metrics")

        @hookimpl
        def conversation_opened(conversation):
            log.info("conversation %s opened on %s", conversation.id, conversation.channel)
    """


@hookspec
def conversation_closed(conversation: Conversation) -> None:
    """A conversation was closed: after the survey, when the citizen left, or when it
    expired (``civic conversations expire``).

    Called after the transaction that closed it is committed.

    :param conversation: the conversation, in the ``closed`` state.

    Collected: every plugin is called, each once; the return value is ignored.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_metrics")

        @hookimpl
        def conversation_closed(conversation):
            log.info("conversation %s closed in %s", conversation.id, conversation.department)
    """


@hookspec
def conversation_handed_over(conversation: Conversation) -> None:
    """A conversation joined its department's queue, waiting for a person: the citizen
    asked for one, a department handed over, or a form offered one. Notify the team here.

    Called after the message's transaction is committed.

    :param conversation: the conversation, in the ``waiting_human`` state; its
        ``department`` is the queue (``None``: the citizen had not chosen one).

    Collected: every plugin is called, each once; the return value is ignored.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_pager")

        @hookimpl
        def conversation_handed_over(conversation):
            # Page the department's team; civic has already committed the hand-over.
            queue = conversation.department or "geral"
            log.warning("%s: conversation %s is waiting", queue, conversation.id)
    """


@hookspec
def conversation_taken(conversation: Conversation, agent: str) -> None:
    """An attendant took a conversation from the queue (or answered it, which takes it).

    Called after the staff action's transaction is committed.

    :param conversation: the conversation, now ``with_agent``.
    :param agent: the attendant's name.

    Collected: every plugin is called, each once; the return value is ignored.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_dashboard")

        @hookimpl
        def conversation_taken(conversation, agent):
            log.info("%s took conversation %s", agent, conversation.id)
    """


@hookspec
def conversation_transferred(
    conversation: Conversation, source: str | None, target: str, note: str | None, agent: str
) -> None:
    """An attendant moved a conversation to another department's queue.

    Called after the staff action's transaction is committed.

    :param conversation: the conversation, waiting in ``target``'s queue.
    :param source: the department it came from.
    :param target: the department it went to.
    :param note: the attendant's internal note for the next team (never sent to the
        citizen), or ``None``.
    :param agent: who transferred it.

    Collected: every plugin is called, each once; the return value is ignored.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_pager")

        @hookimpl
        def conversation_transferred(conversation, source, target):
            log.warning("%s: conversation %s from %s", target, conversation.id, source)
    """


@hookspec
def conversation_released(conversation: Conversation, agent: str) -> None:
    """An attendant gave a conversation back to its department's queue.

    Called after the staff action's transaction is committed.

    :param conversation: the conversation, ``waiting_human`` again.
    :param agent: who released it.

    Collected: every plugin is called, each once; the return value is ignored.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_dashboard")

        @hookimpl
        def conversation_released(conversation, agent):
            log.info("%s released conversation %s", agent, conversation.id)
    """


@hookspec
def conversation_resolved(conversation: Conversation, agent: str) -> None:
    """An attendant closed their part: the citizen is now asked the closing survey.

    Called after the staff action's transaction is committed; ``conversation_closed``
    follows when the survey ends or the conversation expires.

    :param conversation: the conversation, in the ``rating`` state.
    :param agent: the attendant who closed it; the rating will record them.

    Collected: every plugin is called, each once; the return value is ignored.

    Example::

        import logging
        from civic import hookimpl

        log = logging.getLogger("civic_metrics")

        @hookimpl
        def conversation_resolved(conversation, agent):
            log.info("%s resolved conversation %s", agent, conversation.id)
    """


# -- reports --------------------------------------------------------------------------


@hookspec
def register_report_indicators(register: Callable[[Any], None]) -> None:
    """Add figures to satisfaction reports (``civic report`` and the published page).

    Called once per report, before any figure is computed.

    :param register: call it with each :class:`civic.report.ReportIndicator`: a
        ``snake_case`` name, a Portuguese label, and ``compute(query)``. ``compute`` is
        called once per report with a :class:`civic.report.ReportQuery`, the read-only
        aggregates of the report's conversations (counts, contacts, scores per scale,
        submissions, median durations; plugins never get a database session), and returns
        a :class:`civic.report.Aggregate` holding the figure for the whole report and for
        each of ``query.group_keys``. Values must be JSON-compatible: numbers, strings,
        ``None``, or a mapping of them. A name registered twice keeps the first
        registration (the built-in ``scoring`` plugin registers first); the clash is
        logged with both plugins' names. A ``compute`` that raises is logged with its
        plugin's name and its figure is left out of the report.

    Collected: every plugin is called; the return value is ignored.

    Example::

        from civic import hookimpl
        from civic.report import Aggregate, ReportIndicator

        @hookimpl
        def register_report_indicators(register):
            register(ReportIndicator(
                name="forms_per_conversation",
                label="Protocolos por conversa",
                description="Protocolos abertos divididos pelas conversas do período.",
                compute=lambda query: ratio(query.submissions(), query.conversations()),
            ))

        def ratio(part, whole):
            # part over whole, for the report and for each of its groups
            def divide(a, b):
                return round(a / b, 2) if b else None
            groups = {key: divide(part.groups.get(key, 0), n) for key, n in whole.groups.items()}
            return Aggregate(divide(part.total, whole.total), groups)
    """
