"""Attendants' accounts and their signed-in sessions.

An attendant (an *agent*) is a row of the ``agent`` table. A staff action records one
implicitly, with no password (:meth:`civic.storage.Transaction.ensure_agent`); such an
agent cannot sign in until :func:`add_agent` or :func:`reset_password` gives them one.

- Passwords are hashed with argon2id (:data:`HASHER`) and rehashed at the next sign-in
  when its parameters change; nothing stores or logs a password in clear.
- Sign-in is throttled per account: after :data:`MAX_FAILURES` failures in a row it is
  refused for :data:`LOCK_TIME`, twice as long after each further series of failures (up
  to :data:`MAX_LOCK_TIME`). A success, or a new password, resets the count.
- An unknown name, a wrong password, a disabled account and an account with no password
  all fail alike, with one Portuguese sentence, after verifying a hash all the same.
- A session is a random token in the attendant's cookie; the database keeps only its
  SHA-256. It expires after ``lifetime`` without use, and :data:`MAX_SESSION` after it
  started whatever happens. Each session has its own CSRF token.

Time always comes in as ``now`` (an aware UTC datetime); nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
import secrets
import unicodedata
from collections.abc import Collection, Sequence

import argon2
import attrs

from civic.staff import StaffError, agent_name
from civic.storage import AgentRecord, Conflict, Storage, to_storage_time

#: The password hasher (argon2id, the library's recommended parameters). A hash made
#: with other parameters is replaced at the attendant's next sign-in.
HASHER = argon2.PasswordHasher()
#: The shortest password accepted, and the longest (hashing is deliberately slow).
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
#: Failed sign-ins in a row before the account is locked, and for how long.
MAX_FAILURES = 5
LOCK_TIME = dt.timedelta(minutes=15)
MAX_LOCK_TIME = dt.timedelta(hours=2)
#: A session never lasts longer than this from sign-in, however active.
MAX_SESSION = dt.timedelta(hours=12)
#: A session's last use is written at most this often (a console polls).
TOUCH_EVERY = dt.timedelta(minutes=1)
#: The longest cookie token looked up (``token_urlsafe(32)`` gives 43 characters).
MAX_TOKEN_LENGTH = 128

SIGN_IN_FAILED = "Nome ou senha incorretos."

_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@attrs.frozen
class Account:
    """An attendant who can sign in, as the console sees them."""

    id: int
    name: str
    departments: tuple[str, ...]
    is_admin: bool
    active: bool

    def can_see(self, department: str | None) -> bool:
        """Whether this attendant may see a conversation of ``department``: an admin sees
        every one, others their own departments; ``None`` (no department yet) only admins."""
        if self.is_admin:
            return True
        return department is not None and department in self.departments


class AuthError(Exception):
    """Sign-in refused; ``str(exc)`` is the sentence for the sign-in page."""

    def __init__(self, message: str = SIGN_IN_FAILED) -> None:
        super().__init__(message)


class Throttled(AuthError):
    """Too many failed sign-ins: the account is locked for a while."""

    def __init__(self, minutes: int) -> None:
        self.minutes = minutes
        unit = "minuto" if minutes == 1 else "minutos"
        super().__init__(
            f"Muitas tentativas sem sucesso. Por segurança, tente de novo em {minutes} {unit}."
        )


class AccountError(ValueError):
    """An operator's request that cannot be done (unknown attendant, bad department,
    weak password); the message says why, in English."""


# -- checks ---------------------------------------------------------------------------


def check_name(name: str) -> str:
    """An attendant's name, cleaned as :func:`civic.staff.agent_name` does."""
    try:
        return agent_name(name)
    except StaffError as exc:
        raise AccountError(str(exc)) from None


def check_password(password: str, name: str | None = None) -> None:
    """Refuse a password that is too weak: too short, one repeated character, or the
    attendant's own name."""
    password = _prepared(password)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) == 1:
        raise AccountError("the password is one character repeated")
    if name is not None and " ".join(password.split()).casefold() == name.casefold():
        raise AccountError("the password is the attendant's name")


def check_departments(
    departments: Sequence[str], known: Collection[str] | None = None
) -> tuple[str, ...]:
    """Department slugs, cleaned (lower case, no duplicates), each one of ``known`` when
    given (the installed or enabled departments)."""
    cleaned: list[str] = []
    for raw in departments:
        slug = raw.strip().lower()
        if not slug:
            continue
        if not _SLUG.match(slug):
            raise AccountError(f"{raw!r} is not a department slug")
        if known is not None and slug not in known:
            available = ", ".join(sorted(known)) or "none"
            raise AccountError(f"unknown department {slug!r}; available: {available}")
        if slug not in cleaned:
            cleaned.append(slug)
    return tuple(cleaned)


# -- accounts -------------------------------------------------------------------------


def add_agent(
    storage: Storage,
    name: str,
    password: str,
    departments: Sequence[str],
    *,
    admin: bool = False,
    now: dt.datetime,
) -> Account:
    """Give an attendant an account that can sign in.

    An attendant already recorded by a staff action, with no password yet, gets this
    password and these departments (and is enabled); one who has a password already is
    refused (use :func:`reset_password`). Only the slugs' form is checked here: the
    caller checks them against the departments installed (:func:`check_departments`).
    """
    name = check_name(name)
    slugs = check_departments(departments)
    if not slugs and not admin:
        raise AccountError("an attendant needs at least one department (or to be an admin)")
    check_password(password, name)
    password_hash = HASHER.hash(_prepared(password))
    now = to_storage_time(now)

    try:
        with storage.transaction() as tx:
            found = tx.agent_record(name)
            if found is None:
                agent_id = tx.add_agent_account(
                    name=name,
                    departments=slugs,
                    is_admin=admin,
                    password_hash=password_hash,
                    now=now,
                )
            elif tx.open_agent_account(
                found.id,
                departments=slugs,
                is_admin=admin,
                password_hash=password_hash,
                now=now,
            ):
                agent_id = found.id
            else:
                raise AccountError(
                    f"the attendant {name!r} has an account already; "
                    "use reset-password to change the password"
                )
    except Conflict:  # another operator added the same name at the same moment
        raise AccountError(f"the attendant {name!r} has an account already") from None
    return Account(id=agent_id, name=name, departments=slugs, is_admin=admin, active=True)


def list_agents(storage: Storage) -> list[Account]:
    """Every attendant, by name, including the disabled and those with no password."""
    with storage.reading() as tx:
        return [_account(record) for record in tx.agent_records()]


def without_password(storage: Storage) -> set[str]:
    """The names of the attendants who cannot sign in because they have no password yet
    (recorded by a staff action only)."""
    with storage.reading() as tx:
        return {r.name for r in tx.agent_records() if r.password_hash is None}


def get_account(storage: Storage, name: str) -> Account | None:
    """The attendant called ``name``, or ``None``."""
    try:
        name = agent_name(name)
    except StaffError:
        return None
    with storage.reading() as tx:
        record = tx.agent_record(name)
    return None if record is None else _account(record)


def disable_agent(storage: Storage, name: str, now: dt.datetime) -> None:
    """Refuse the attendant's sign-ins from now on and end their sessions. Their name
    stays on the conversations they had."""
    name = check_name(name)
    now = to_storage_time(now)
    with storage.transaction() as tx:
        record = _existing(tx.agent_record(name), name)
        tx.set_agent_active(record.id, False)
        tx.delete_agent_sessions(record.id)
        tx.delete_expired_sessions(now)


def reset_password(storage: Storage, name: str, password: str, now: dt.datetime) -> None:
    """Give the attendant a new password (or their first), lift any sign-in lock and end
    their sessions. A disabled attendant stays disabled."""
    name = check_name(name)
    check_password(password, name)
    password_hash = HASHER.hash(_prepared(password))
    now = to_storage_time(now)
    with storage.transaction() as tx:
        record = _existing(tx.agent_record(name), name)
        tx.set_agent_password(record.id, password_hash, changed_at=now)
        tx.delete_agent_sessions(record.id)


# -- signing in -----------------------------------------------------------------------


def authenticate(storage: Storage, name: str, password: str, now: dt.datetime) -> Account:
    """The attendant whose name and password these are.

    Raises :class:`Throttled` while the account is locked (the password is not even
    checked), and :class:`AuthError`, with the same sentence, for an unknown name, a
    wrong password, a disabled account or one with no password.
    """
    now = to_storage_time(now)
    try:
        name = agent_name(name)
    except StaffError:
        name = ""
    record = None
    if name and len(password) <= MAX_PASSWORD_LENGTH:
        with storage.reading() as tx:
            record = tx.agent_record(name)
    if record is None or record.password_hash is None or not record.active:
        _verify(_dummy_hash(HASHER), password[:MAX_PASSWORD_LENGTH])  # as slow as a check
        raise AuthError()
    if record.locked_until is not None and record.locked_until > now:
        raise Throttled(_minutes(record.locked_until - now))
    # The attempt counts as a failure *before* its password is checked, and the attempt
    # that reaches a lock sets it at once: attempts made in parallel cannot check more
    # passwords than the lock allows (each one is counted, and the lock seen, in one
    # write transaction). A correct password then clears both.
    lock = None
    with storage.transaction() as tx:
        failures = tx.count_sign_in_attempt(record.id, now)
        if failures is None:  # another attempt locked it meanwhile
            current = tx.agent_record(name)
            locked_until = current.locked_until if current is not None else None
        else:
            lock = _lock_time(failures)
            if lock is not None:
                tx.lock_sign_in(record.id, now + lock)
    if failures is None:
        raise Throttled(_minutes(locked_until - now) if locked_until else 1)
    if not _verify(record.password_hash, password):
        if lock is not None:
            raise Throttled(_minutes(lock))
        raise AuthError()
    with storage.transaction() as tx:
        tx.clear_sign_in_failures(record.id)
    if HASHER.check_needs_rehash(record.password_hash):
        with storage.transaction() as tx:
            tx.set_agent_password(record.id, HASHER.hash(_prepared(password)), changed_at=None)
    return _account(record)


def start_session(
    storage: Storage,
    account: Account,
    now: dt.datetime,
    lifetime: dt.timedelta = dt.timedelta(hours=8),
) -> tuple[str, str]:
    """Start a session for a signed-in attendant: ``(cookie token, CSRF token)``.

    The session expires ``lifetime`` after its last use, and :data:`MAX_SESSION` after
    now at the latest. Expired sessions of every attendant are removed on the way.
    """
    if lifetime <= dt.timedelta(0):
        raise ValueError("a session's lifetime must be positive")
    now = to_storage_time(now)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with storage.transaction() as tx:
        tx.delete_expired_sessions(now)
        tx.add_agent_session(
            token_hash=_token_hash(token),
            agent_id=account.id,
            csrf_token=csrf,
            now=now,
            expires_at=now + min(lifetime, MAX_SESSION),
        )
    return token, csrf


def session_account(
    storage: Storage, token: str | None, now: dt.datetime
) -> tuple[Account, str] | None:
    """The attendant signed in with this cookie token and the session's CSRF token, or
    ``None`` when the session is unknown, expired or its attendant disabled.

    Each use moves the expiry ``lifetime`` past now (never past :data:`MAX_SESSION` after
    sign-in); the database is written at most every :data:`TOUCH_EVERY`.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = to_storage_time(now)
    token_hash = _token_hash(token)
    with storage.reading() as tx:
        found = tx.agent_session(token_hash)
    if found is None:
        return None
    session, record = found
    if session.expires_at <= now or not record.active:
        with storage.transaction() as tx:
            tx.delete_agent_session(token_hash)
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        # The expiry is always min(last use + lifetime, start + MAX_SESSION), so the
        # lifetime is what lies between the last use and the expiry, unless capped.
        cap = session.created_at + MAX_SESSION
        lifetime = session.expires_at - session.last_seen_at
        expires_at = session.expires_at if session.expires_at >= cap else min(now + lifetime, cap)
        with storage.transaction() as tx:
            tx.touch_agent_session(session.id, now=now, expires_at=expires_at)
    return _account(record), session.csrf_token


def end_session(storage: Storage, token: str | None) -> None:
    """Sign out: forget the session of this cookie token (nothing when there is none)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return
    with storage.transaction() as tx:
        tx.delete_agent_session(_token_hash(token))


# -- helpers --------------------------------------------------------------------------


def _account(record: AgentRecord) -> Account:
    return Account(
        id=record.id,
        name=record.name,
        departments=record.departments,
        is_admin=record.is_admin,
        active=record.active,
    )


def _existing(record: AgentRecord | None, name: str) -> AgentRecord:
    if record is None:
        raise AccountError(f"no attendant called {name!r}")
    return record


def _prepared(password: str) -> str:
    """A password as hashed: Unicode-normalised (NFKC), so the same characters typed on
    another keyboard or browser give the same password."""
    return unicodedata.normalize("NFKC", password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, _prepared(password))
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


@functools.cache
def _dummy_hash(hasher: argon2.PasswordHasher) -> str:
    """A hash of a random password, made with ``hasher``'s parameters, to verify against
    when there is no account: an unknown name takes as long as a wrong password."""
    return hasher.hash(secrets.token_urlsafe(16))


def _lock_time(failures: int) -> dt.timedelta | None:
    """How long to lock after ``failures`` in a row: :data:`LOCK_TIME` at every
    :data:`MAX_FAILURES`-th, doubled each time, at most :data:`MAX_LOCK_TIME`."""
    if failures < MAX_FAILURES or failures % MAX_FAILURES:
        return None
    doublings = min(failures // MAX_FAILURES - 1, 16)
    factor: int = 2**doublings
    return min(LOCK_TIME * factor, MAX_LOCK_TIME)


def _minutes(delta: dt.timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds() / 60))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
