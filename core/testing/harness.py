"""A conversation harness: civic in-process, a citizen who types, an attendant who answers.

:class:`Harness` builds an engine on a temporary SQLite database, with the plugins under
test (alone with civic's default plugins, or with every installed plugin too), a frozen
clock you move by hand, fresh secrets and CPF keys, and a watcher that fails the test
when anything logs an error (a plugin that raised, a turn that failed). Then it talks::

    from civic.testing import Harness, MARIA

    def test_a_complaint_gets_a_protocol():
        with Harness(installed=["procon"]) as h:
            h.say(MARIA)                          # name and CPF
            h.expect("PROCON", state="in_department")
            h.say("1")                            # the complaint form
            ...
            h.say("1")                            # confirm the summary
            assert h.submission().data["fornecedor"] == "Loja Exemplo"

:class:`Citizen` is one address talking to an engine (``harness.citizen()`` makes more);
its ``say`` returns every reply rendered as a channel without buttons shows it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from civic.states import State
from civic.values import Inbound, Outcome

if TYPE_CHECKING:
    import pluggy

    from civic.config import Config
    from civic.engine import Engine
    from civic.forms import FormRunner
    from civic.storage import Storage

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_AGENT",
    "DEFAULT_START",
    "MARIA",
    "Attendant",
    "Citizen",
    "FormView",
    "Harness",
    "LoggedError",
    "Submission",
    "build_manager",
]

#: A citizen's first message: a name and a valid CPF (Maria's, 529.982.247-25).
MARIA = "Maria José dos Santos 529.982.247-25"
#: The address of a harness's first citizen.
DEFAULT_ADDRESS = "5535999990000"
#: The attendant's name when a staff verb is not given one.
DEFAULT_AGENT = "Ana"
#: The harness's clock at the start: Monday 16 March 2026, 10:00 in Brasília (13:00 UTC).
DEFAULT_START = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)
#: The secret of the CPF hashes of every harness (a test database holds no real person).
SECRET = b"civic-testing-secret"

_message_ids = itertools.count(1)
_addresses = itertools.count(1)


class LoggedError(AssertionError):
    """Something logged an error while the harness was talking to civic (a plugin that
    raised, a turn that failed and apologised): the message holds the log and the
    conversation so far."""


@attrs.frozen
class Submission:
    """A submitted form as civic stored it.

    :param protocol: the number the citizen was given.
    :param data: the answers in full, document numbers included (decrypted).
    :param stored: the answers as kept in clear (document numbers masked).
    """

    protocol: str
    department: str
    form: str
    status: str
    data: Mapping[str, Any]
    stored: Mapping[str, Any]
    citizen_name: str | None
    conversation_id: int


@attrs.frozen
class FormView:
    """Where a conversation stands in a form: its ``name``; ``stage`` (``field``,
    ``summary``, or ``which`` when asked which field to correct); the ``field`` being
    asked; the ``answers`` so far, as they will be stored."""

    name: str
    stage: str
    field: str | None
    answers: Mapping[str, Any]


class Citizen:
    """One address talking to an engine, as a channel does: each message's replies are
    marked sent once read (``deliver=False`` leaves them pending in the outbox).

    Works on any :class:`~civic.engine.Engine`; a :class:`Harness` makes its citizens
    with ``harness.citizen()`` and checks the log after each message.

    :param engine: the engine to talk to.
    :param address: the citizen's address on the channel (a phone number on WhatsApp).
    :param channel: the channel's name.
    :param pinned: a department the channel pins the conversation to (a WhatsApp number
        of the department's own).
    :param deliver: mark replies sent once returned.
    """

    def __init__(
        self,
        engine: Engine,
        address: str = DEFAULT_ADDRESS,
        *,
        channel: str = "test",
        pinned: str | None = None,
        deliver: bool = True,
        harness: Harness | None = None,
    ) -> None:
        self.engine = engine
        self.address = address
        self.channel = channel
        self.pinned = pinned
        self.deliver = deliver
        self.harness = harness
        #: The engine's outcome of the last message.
        self.last: Outcome | None = None
        #: Every conversation this citizen had, in order.
        self.conversations: list[int] = []
        #: What was said, one line a message (``citizen:``, ``bot:``, ``agent Ana:``).
        self.transcript: list[str] = []

    # -- talking ----------------------------------------------------------------------
    def say(self, text: str, *, message_id: str | None = None) -> str:
        """Send one message; return every reply rendered, joined by blank lines."""
        self.transcript.append(f"citizen: {text[:300]!r}")
        with self._watched():
            self.last = self.engine.handle(
                Inbound(
                    channel=self.channel,
                    address=self.address,
                    text=text,
                    channel_message_id=message_id or f"m{next(_message_ids)}",
                    pinned_department=self.pinned,
                )
            )
        if self.last.conversation_id is not None and (
            not self.conversations or self.conversations[-1] != self.last.conversation_id
        ):
            self.conversations.append(self.last.conversation_id)
        if self.deliver:
            self.engine.mark([d.id for d in self.last.deliveries if d.status == "pending"], "sent")
        replies = [self.engine.render(reply) for reply in self.last.replies]
        self.transcript += [
            f"{d.agent or d.author}: {rendered}"
            for d, rendered in zip(self.last.deliveries, replies, strict=False)
        ]
        return "\n\n".join(replies)

    #: ``send`` is ``say`` (the name the engine's own tests use).
    send = say

    def script(self, *lines: str) -> str:
        """Send each line; return the replies to the last one."""
        answer = ""
        for line in lines:
            answer = self.say(line)
        return answer

    def received(self) -> str:
        """What reached the citizen since the last look without being an answer to one
        of their messages (an attendant's reply, a transfer notice, the expiry notice),
        rendered and marked sent; ``""`` when nothing did."""
        pending = self.engine.pending(self.channel, self.address)
        if not pending:
            return ""
        self.engine.mark([d.id for d in pending], "sent")
        texts = [self.engine.render(d.reply) for d in pending]
        self.transcript += [
            f"{d.agent or d.author}: {t}" for d, t in zip(pending, texts, strict=True)
        ]
        return "\n\n".join(texts)

    # -- what happened ----------------------------------------------------------------
    @property
    def reply(self) -> str:
        """The replies to the last message, rendered and joined by blank lines."""
        if self.last is None:
            return ""
        return "\n\n".join(self.engine.render(reply) for reply in self.last.replies)

    @property
    def conversation_id(self) -> int | None:
        """The citizen's current (or last) conversation."""
        return self.conversations[-1] if self.conversations else None

    @property
    def state(self) -> str:
        """The state of the citizen's conversation, as stored now (after a staff action
        too); ``""`` before the first message."""
        if self.conversation_id is not None:
            found = self.engine.conversation(self.conversation_id)
            if found is not None:
                return found.state
        return self.last.state if self.last is not None else ""

    @property
    def department(self) -> str | None:
        """The department of the citizen's conversation."""
        if self.conversation_id is None:
            return None
        found = self.engine.conversation(self.conversation_id)
        return found.department if found is not None else None

    def expect(
        self,
        *fragments: str,
        state: str | State | None = None,
        department: str | None = None,
    ) -> str:
        """Assert that the replies to the last message contain each of ``fragments``
        (exact substrings), and that the conversation is in ``state`` and ``department``
        when given; return the replies. The error shows the conversation so far."""
        text = self.reply
        missing = [fragment for fragment in fragments if fragment not in text]
        problems = [f"the replies do not contain {fragment!r}" for fragment in missing]
        if state is not None and self.state != State(state).value:
            problems.append(f"the state is {self.state!r}, not {State(state).value!r}")
        if department is not None and self.department != department:
            problems.append(f"the department is {self.department!r}, not {department!r}")
        if problems:
            raise AssertionError("; ".join(problems) + "\n" + self.conversation_so_far())
        return text

    def conversation_so_far(self, lines: int = 30) -> str:
        """The last ``lines`` of the transcript, for error messages."""
        return "conversation so far:\n  " + "\n  ".join(self.transcript[-lines:])

    # -- forms and protocols ----------------------------------------------------------
    def form(self) -> FormView | None:
        """Where the conversation stands in a form, or ``None`` outside one."""
        from civic.context import Context

        if self.conversation_id is None:
            return None
        with self.engine.storage.reading() as tx:
            row = tx.conversation(self.conversation_id)
        if row is None or row["state"] != State.FORM:
            return None
        form = Context.load(row["context"]).form
        if form is None:
            return None
        progress = form.progress
        if isinstance(progress.get("sealed"), str):  # answers holding a document number
            progress = self.engine.vault.decrypt_json(progress["sealed"])
        return FormView(
            name=form.name,
            stage=str(progress.get("stage", "field")),
            field=progress.get("field"),
            answers=dict(progress.get("answers") or {}),
        )

    @property
    def asking(self) -> str | None:
        """The name of the form field being asked, or ``None``."""
        view = self.form()
        return view.field if view is not None and view.stage == "field" else None

    @property
    def protocols(self) -> list[str]:
        """The protocols filed in this citizen's conversations, oldest first."""
        with self.engine.storage.reading() as tx:
            return [
                row["protocol"]
                for conversation in self.conversations
                for row in tx.submissions_of(conversation)
            ]

    def submission(self, protocol: str | None = None) -> Submission:
        """The stored submission of ``protocol`` (default: this citizen's last one), its
        answers in full (:class:`Submission`)."""
        if protocol is None:
            mine = self.protocols
            if not mine:
                raise LookupError("this citizen filed no protocol\n" + self.conversation_so_far())
            protocol = mine[-1]
        with self.engine.storage.reading() as tx:
            row = tx.submission(protocol)
        if row is None:
            raise LookupError(f"no protocol {protocol!r}")
        stored = json.loads(row["data"])
        data = dict(stored)
        if row["secret_data"]:
            data.update(self.engine.vault.decrypt_json(row["secret_data"]))
        return Submission(
            protocol=row["protocol"],
            department=row["department"],
            form=row["form"],
            status=row["status"],
            data=data,
            stored=stored,
            citizen_name=row["citizen_name"],
            conversation_id=row["conversation_id"],
        )

    # -- internals --------------------------------------------------------------------
    def _watched(self) -> AbstractContextManager[None]:
        if self.harness is None:
            return contextlib.nullcontext()
        return self.harness.watching(self)


def build_manager(
    plugins: Iterable[object] = (), installed: bool | Iterable[str] = False
) -> pluggy.PluginManager:
    """A plugin manager with civic's default plugins, the installed plugins asked for
    (``True``: all of them, built-in departments included; a list: those entry-point
    names; ``False``: none) and ``plugins`` (modules or objects with ``@hookimpl``
    functions, registered in that order). Environment variables are not read."""
    from civic.plugins import make_manager

    if installed is True:
        environ: dict[str, str] = {}
    elif installed is False:
        environ = {"CIVIC_LOAD_PLUGINS": ""}
    else:
        environ = {"CIVIC_LOAD_PLUGINS": ",".join(installed)}
    manager = make_manager(environ)
    for plugin in plugins:
        if not manager.is_registered(plugin):
            manager.register(plugin)
    manager.check_pending()
    return manager


@functools.cache
def sqlite_template() -> Path:
    """A migrated, empty SQLite database to copy (migrations run once per process)."""
    from civic.storage import Storage

    folder = Path(tempfile.mkdtemp(prefix="civic-testing-template-"))
    storage = Storage(f"sqlite:///{folder / 'template.db'}")
    storage.migrate()
    with storage.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    storage.close()
    return folder / "template.db"


@functools.cache
def _vault_key() -> str:
    from civic.crypto import new_key

    return new_key()


class _ErrorWatcher(logging.Handler):
    """Collects the error records logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    """civic in-process, for a test: an engine, a temporary database, a frozen clock,
    citizens and an attendant.

    :param plugins: plugins under test (modules, or objects with ``@hookimpl`` methods),
        registered after civic's default plugins.
    :param installed: also load installed plugins: ``True`` for all of them (the
        built-in departments included), or a list of entry-point names (``["procon"]``).
    :param config: the city's configuration: a :class:`~civic.config.Config`, or a
        mapping shaped like ``civic.toml`` (checked as ``civic config check`` does).
    :param start: the clock's first time (aware); see :meth:`advance`.
    :param database_url: a database to use instead of a temporary SQLite file (it is
        migrated, not emptied).
    :param strict: raise :class:`LoggedError` as soon as a message or staff action
        logged an error (default); otherwise they are only kept in :attr:`errors`.
    :param rate_limit: apply the city's per-citizen rate limit (``[limits]
        messages_per_minute``, see :mod:`civic.rate_limit`). Off by default: the clock
        stands still between :meth:`advance` calls, so a test's messages all arrive in
        the same instant, as a flood would.
    """

    def __init__(
        self,
        *plugins: object,
        installed: bool | Iterable[str] = False,
        config: Config | Mapping[str, Any] | None = None,
        start: dt.datetime = DEFAULT_START,
        database_url: str | None = None,
        strict: bool = True,
        manager: pluggy.PluginManager | None = None,
        rate_limit: bool = False,
    ) -> None:
        from civic.config import Config, parse_config
        from civic.crypto import Vault
        from civic.engine import Engine

        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime (tzinfo=datetime.UTC)")
        self.now = start.astimezone(dt.UTC)
        self.strict = strict
        #: Every error logged while talking to civic (see ``strict``).
        self.errors: list[logging.LogRecord] = []
        self._folder: Path | None = None
        self.storage = self._open_storage(database_url)
        if config is None:
            config = Config()
        elif not isinstance(config, Config):
            config = parse_config(config, source="harness")
        if not rate_limit:  # the clock stands still: every message would be one flood
            config = attrs.evolve(config, limits=attrs.evolve(config.limits, messages_per_minute=0))
        self.manager = manager or build_manager(plugins, installed)
        try:
            self.engine: Engine = Engine(
                self.storage,
                secret=SECRET,
                config=config,
                manager=self.manager,
                clock=lambda: self.now,
                vault=Vault([_vault_key()], source="the harness's key"),
            )
        except Exception:
            self.close()
            raise
        self._default: Citizen | None = None

    def _open_storage(self, url: str | None) -> Storage:
        from civic.storage import Storage

        if url is None:
            self._folder = Path(tempfile.mkdtemp(prefix="civic-harness-"))
            target = self._folder / "civic.db"
            shutil.copyfile(sqlite_template(), target)
            url = f"sqlite:///{target}"
        storage = Storage(url)
        storage.migrate()
        return storage

    # -- life -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database and remove the temporary folder."""
        self.storage.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Harness:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the clock --------------------------------------------------------------------
    def advance(self, delta: dt.timedelta | None = None, /, **units: float) -> dt.datetime:
        """Move the clock forward by ``delta`` or by ``units`` (``hours=25``,
        ``minutes=3``); return the new time. Nothing else moves it."""
        step = delta if delta is not None else dt.timedelta(**units)
        if step < dt.timedelta(0):
            raise ValueError("the clock only moves forward")
        self.now += step
        return self.now

    def expire(self) -> list[int]:
        """Close the conversations whose citizen went quiet too long (as ``civic
        conversations expire`` does from cron); return their ids."""
        from civic import staff

        with self.watching():
            return staff.expire(self.engine)

    # -- citizens ---------------------------------------------------------------------
    def citizen(
        self, address: str | None = None, *, pinned: str | None = None, channel: str = "test"
    ) -> Citizen:
        """A new citizen (a fresh address unless given), its errors watched by this
        harness. ``pinned`` pins the conversation to a department, as a department's own
        WhatsApp number does."""
        return Citizen(
            self.engine,
            address or f"55359{next(_addresses):08d}",
            channel=channel,
            pinned=pinned,
            harness=self,
        )

    @property
    def me(self) -> Citizen:
        """The harness's first citizen, the one :meth:`say` speaks for."""
        if self._default is None:
            self._default = self.citizen(DEFAULT_ADDRESS)
        return self._default

    def say(self, text: str, *, message_id: str | None = None) -> str:
        """The first citizen sends ``text``; return the replies (:meth:`Citizen.say`)."""
        return self.me.say(text, message_id=message_id)

    def script(self, *lines: str) -> str:
        """The first citizen sends each line; return the replies to the last one."""
        return self.me.script(*lines)

    def expect(
        self, *fragments: str, state: str | State | None = None, department: str | None = None
    ) -> str:
        """:meth:`Citizen.expect` for the first citizen."""
        return self.me.expect(*fragments, state=state, department=department)

    def received(self) -> str:
        """:meth:`Citizen.received` for the first citizen."""
        return self.me.received()

    @property
    def reply(self) -> str:
        """The replies to the first citizen's last message."""
        return self.me.reply

    @property
    def state(self) -> str:
        """The state of the first citizen's conversation."""
        return self.me.state

    @property
    def department(self) -> str | None:
        """The department of the first citizen's conversation."""
        return self.me.department

    def form(self) -> FormView | None:
        """Where the first citizen stands in a form (:meth:`Citizen.form`)."""
        return self.me.form()

    @property
    def protocols(self) -> list[str]:
        """The protocols the first citizen filed."""
        return self.me.protocols

    def submission(self, protocol: str | None = None) -> Submission:
        """A stored submission (default: the first citizen's last)."""
        return self.me.submission(protocol)

    def form_runner(self, department: str, form: str) -> FormRunner:
        """The engine's runner of a department's form (the city's texts, every plugin's
        formats): what :func:`civic.testing.strategies.form_answers` accepts."""
        return self.engine.forms[(department, form)]

    # -- the attendant ----------------------------------------------------------------
    def attendant(self, name: str = DEFAULT_AGENT) -> Attendant:
        """An attendant of the team, acting on the first citizen's conversation unless
        told otherwise (``who=``)."""
        return Attendant(self, name)

    # -- errors -----------------------------------------------------------------------
    @contextlib.contextmanager
    def watching(self, citizen: Citizen | None = None) -> Iterator[None]:
        """Record the errors logged inside this block in :attr:`errors`, and raise
        :class:`LoggedError` at its end when the harness is ``strict``."""
        watcher = _ErrorWatcher()
        root = logging.getLogger()
        root.addHandler(watcher)
        try:
            yield
        finally:
            root.removeHandler(watcher)
        if watcher.records:
            self.errors += watcher.records
            if self.strict:
                raise LoggedError(self._describe(watcher.records, citizen))

    def _describe(self, records: list[logging.LogRecord], citizen: Citizen | None) -> str:
        formatter = logging.Formatter("%(name)s: %(message)s")
        lines = []
        for record in records:
            text = formatter.format(record)
            lines.append(text)
        found = "civic logged an error:\n" + "\n".join(lines)
        return found + ("\n" + citizen.conversation_so_far() if citizen else "")


class Attendant:
    """A member of the team, acting through the same functions as ``civic
    conversations`` and the console (:mod:`civic.staff`). Each verb acts on the
    conversation of ``who`` (a :class:`Citizen`, or a conversation id; default: the
    harness's first citizen) and returns what the citizen received because of it.
    A verb the conversation's state does not allow raises :class:`civic.staff.StaffError`.
    """

    def __init__(self, harness: Harness, name: str = DEFAULT_AGENT) -> None:
        self.harness = harness
        self.name = name

    def take(self, *, who: Citizen | int | None = None) -> str:
        """Take a conversation waiting in the queue."""
        from civic import staff

        return self._act(who, "take", lambda cid: staff.take(self.harness.engine, cid, self.name))

    def reply(self, text: str, *, who: Citizen | int | None = None) -> str:
        """Write to the citizen (a conversation still waiting is taken first)."""
        from civic import staff

        return self._act(
            who, "reply", lambda cid: staff.reply(self.harness.engine, cid, self.name, text)
        )

    def close(self, *, who: Citizen | int | None = None) -> str:
        """Done: the citizen is asked for a score (the closing survey)."""
        from civic import staff

        return self._act(who, "close", lambda cid: staff.close(self.harness.engine, cid, self.name))

    def release(self, *, who: Citizen | int | None = None) -> str:
        """Give the conversation back to its department's queue."""
        from civic import staff

        return self._act(
            who, "release", lambda cid: staff.release(self.harness.engine, cid, self.name)
        )

    def transfer(
        self, department: str, *, note: str | None = None, who: Citizen | int | None = None
    ) -> str:
        """Move the conversation to ``department``'s queue, with an internal ``note``."""
        from civic import staff

        engine = self.harness.engine
        return self._act(
            who,
            "transfer",
            lambda cid: staff.transfer(engine, cid, department, agent=self.name, note=note),
        )

    def _act(self, who: Citizen | int | None, verb: str, act: Callable[[int], None]) -> str:
        citizen = self.harness.me if who is None else who if isinstance(who, Citizen) else None
        conversation_id = who if isinstance(who, int) else None
        if citizen is not None:
            conversation_id = citizen.conversation_id
        if conversation_id is None:
            raise LookupError("no conversation yet: the citizen has not written")
        if citizen is not None:
            citizen.transcript.append(f"({self.name}: {verb} conversation {conversation_id})")
        with self.harness.watching(citizen):
            act(conversation_id)
        return citizen.received() if citizen is not None else ""
