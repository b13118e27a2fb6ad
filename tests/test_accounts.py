"""Attendants' accounts and sessions: passwords, sign-in throttling, sessions, the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator

import argon2
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from typer.testing import CliRunner

from civic import accounts
from civic.accounts import Account, AccountError, AuthError, Throttled
from civic.cli import app
from civic.storage import Storage

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"
runner = CliRunner()


class CountingHasher(argon2.PasswordHasher):
    """A fast argon2 hasher (tests need not be slow) that counts its verifications."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture(autouse=True)
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    fast = CountingHasher()
    monkeypatch.setattr(accounts, "HASHER", fast)
    yield fast


def add_ana(storage: Storage, **kwargs: object) -> Account:
    options: dict[str, object] = {"departments": ["cac"], "now": T0, **kwargs}
    return accounts.add_agent(storage, "Ana", PASSWORD, **options)  # type: ignore[arg-type]


def everything_stored(storage: Storage) -> str:
    """Every value of every table, as text."""
    found: list[str] = []
    with storage.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                found.extend(str(value) for value in row)
    return "\n".join(found)


# -- accounts -------------------------------------------------------------------------


def test_a_password_is_stored_only_as_an_argon2_hash(storage: Storage) -> None:
    account = add_ana(storage, departments=["CAC", " procon", "cac"])
    assert account == Account(
        id=account.id, name="Ana", departments=("cac", "procon"), is_admin=False, active=True
    )
    stored = everything_stored(storage)
    assert PASSWORD not in stored
    assert "$argon2id$" in stored
    assert accounts.get_account(storage, "  Ana ") == account
    assert accounts.get_account(storage, "Bia") is None
    assert accounts.get_account(storage, "") is None


def test_authenticate(storage: Storage) -> None:
    add_ana(storage)
    account = accounts.authenticate(storage, "Ana", PASSWORD, T0)
    assert account.name == "Ana" and account.departments == ("cac",)
    with pytest.raises(AuthError) as wrong:
        accounts.authenticate(storage, "Ana", PASSWORD + "!", T0)
    with pytest.raises(AuthError) as unknown:
        accounts.authenticate(storage, "Bia", PASSWORD, T0)
    with pytest.raises(AuthError) as empty:
        accounts.authenticate(storage, "", PASSWORD, T0)
    assert not isinstance(wrong.value, Throttled)
    assert str(wrong.value) == str(unknown.value) == str(empty.value) == "Nome ou senha incorretos."


def test_an_unknown_name_costs_a_verification_too(storage: Storage, hasher: CountingHasher) -> None:
    add_ana(storage)
    with pytest.raises(AuthError):
        accounts.authenticate(storage, "Bia", PASSWORD, T0)
    with pytest.raises(AuthError):
        accounts.authenticate(storage, "Ana", "another password", T0)
    assert hasher.verified == 2


def test_a_password_is_unicode_normalised(storage: Storage) -> None:
    accounts.add_agent(storage, "Ana", "senha do coração", ["cac"], now=T0)  # composed ç, ã
    decomposed = "senha do corac\u0327a\u0303o"
    assert accounts.authenticate(storage, "Ana", decomposed, T0).name == "Ana"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "at least 10"),
        ("a" * 12, "repeated"),
        ("  ana  ", "at least 10"),
        ("Ana Maria Souza", "name"),
        ("x" * 2000 + "y", "at most"),
    ],
)
def test_weak_passwords_are_refused(storage: Storage, password: str, why: str) -> None:
    name = "ana maria  souza" if why == "name" else "Ana"
    with pytest.raises(AccountError, match=why):
        accounts.add_agent(storage, name, password, ["cac"], now=T0)
    assert accounts.list_agents(storage) == []


def test_departments_and_names_are_checked(storage: Storage) -> None:
    with pytest.raises(AccountError, match="not a department slug"):
        accounts.add_agent(storage, "Ana", PASSWORD, ["c a c"], now=T0)
    with pytest.raises(AccountError, match="at least one department"):
        accounts.add_agent(storage, "Ana", PASSWORD, [" ", ""], now=T0)
    with pytest.raises(AccountError, match="empty"):
        accounts.add_agent(storage, "  ", PASSWORD, ["cac"], now=T0)
    assert accounts.check_departments(["cac", "PROCON"], {"cac", "procon"}) == ("cac", "procon")
    with pytest.raises(AccountError, match="unknown department 'obras'; available: cac"):
        accounts.check_departments(["obras"], {"cac"})
    admin = accounts.add_agent(storage, "Chefe", PASSWORD, [], admin=True, now=T0)
    assert admin.is_admin and admin.departments == ()


def test_add_completes_an_agent_a_staff_action_recorded(storage: Storage) -> None:
    with storage.transaction() as tx:
        agent_id = tx.ensure_agent("Ana", T0)
    assert accounts.get_account(storage, "Ana") == Account(agent_id, "Ana", (), False, True)
    with pytest.raises(AuthError):  # no password yet: cannot sign in
        accounts.authenticate(storage, "Ana", PASSWORD, T0)
    assert accounts.without_password(storage) == {"Ana"}
    account = add_ana(storage, departments=["procon"])
    assert account.id == agent_id and account.departments == ("procon",)
    assert accounts.authenticate(storage, "Ana", PASSWORD, T0) == account
    assert accounts.without_password(storage) == set()
    with pytest.raises(AccountError, match="has an account already"):
        add_ana(storage)


def test_list_and_disable(storage: Storage) -> None:
    add_ana(storage)
    accounts.add_agent(storage, "Bia", PASSWORD, ["procon"], admin=True, now=T0)
    accounts.disable_agent(storage, "Ana", T0)
    listed = accounts.list_agents(storage)
    assert [(a.name, a.active, a.is_admin) for a in listed] == [
        ("Ana", False, False),
        ("Bia", True, True),
    ]
    with pytest.raises(AuthError) as disabled:
        accounts.authenticate(storage, "Ana", PASSWORD, T0)
    assert str(disabled.value) == "Nome ou senha incorretos."
    with pytest.raises(AccountError, match="no attendant called 'Carla'"):
        accounts.disable_agent(storage, "Carla", T0)
    with pytest.raises(AccountError, match="no attendant called 'Carla'"):
        accounts.reset_password(storage, "Carla", PASSWORD, T0)


def test_reset_password(storage: Storage) -> None:
    add_ana(storage)
    accounts.reset_password(storage, "Ana", "a brand new secret", T0)
    with pytest.raises(AuthError):
        accounts.authenticate(storage, "Ana", PASSWORD, T0)
    assert accounts.authenticate(storage, "Ana", "a brand new secret", T0).name == "Ana"
    with pytest.raises(AccountError, match="at least 10"):
        accounts.reset_password(storage, "Ana", "short", T0)


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_ana(storage)
    with storage.reading() as tx:
        old = tx.agent_record("Ana")
    assert old is not None and old.password_hash is not None
    stronger = CountingHasher(time_cost=2)
    monkeypatch.setattr(accounts, "HASHER", stronger)
    accounts.authenticate(storage, "Ana", PASSWORD, T0)
    with storage.reading() as tx:
        new = tx.agent_record("Ana")
    assert new is not None and new.password_hash is not None
    assert new.password_hash != old.password_hash and "t=2" in new.password_hash
    assert not stronger.check_needs_rehash(new.password_hash)
    assert accounts.authenticate(storage, "Ana", PASSWORD, T0).name == "Ana"


def test_can_see() -> None:
    ana = Account(1, "Ana", ("cac", "procon"), is_admin=False, active=True)
    admin = Account(2, "Chefe", (), is_admin=True, active=True)
    assert ana.can_see("cac") and ana.can_see("procon")
    assert not ana.can_see("jsm") and not ana.can_see(None)
    assert admin.can_see("jsm") and admin.can_see(None)


# -- throttling -----------------------------------------------------------------------


def fail_times(storage: Storage, times: int, now: dt.datetime) -> None:
    for _ in range(times):
        with pytest.raises(AuthError) as refused:
            accounts.authenticate(storage, "Ana", "not the password", now)
        assert not isinstance(refused.value, Throttled)


def test_five_failures_lock_the_account(storage: Storage, hasher: CountingHasher) -> None:
    add_ana(storage)
    fail_times(storage, 4, T0)
    with pytest.raises(Throttled, match="tente de novo em 15 minutos"):
        accounts.authenticate(storage, "Ana", "not the password", T0)
    verified = hasher.verified
    with pytest.raises(Throttled, match="em 10 minutos"):  # even the right password
        accounts.authenticate(storage, "Ana", PASSWORD, T0 + dt.timedelta(minutes=5))
    with pytest.raises(Throttled, match="em 1 minuto\\."):
        accounts.authenticate(storage, "Ana", PASSWORD, T0 + dt.timedelta(seconds=899))
    assert hasher.verified == verified  # a locked account checks no password
    assert accounts.authenticate(storage, "Ana", PASSWORD, T0 + dt.timedelta(minutes=15))
    fail_times(storage, 4, T0 + dt.timedelta(minutes=16))  # the count started again


def test_a_success_resets_the_count(storage: Storage) -> None:
    add_ana(storage)
    fail_times(storage, 4, T0)
    accounts.authenticate(storage, "Ana", PASSWORD, T0)
    fail_times(storage, 4, T0)
    with pytest.raises(Throttled):
        accounts.authenticate(storage, "Ana", "not the password", T0)


def test_repeated_lockouts_double(storage: Storage) -> None:
    add_ana(storage)
    fail_times(storage, 4, T0)
    with pytest.raises(Throttled, match="15 minutos"):
        accounts.authenticate(storage, "Ana", "not the password", T0)
    later = T0 + dt.timedelta(minutes=15)
    fail_times(storage, 4, later)
    with pytest.raises(Throttled, match="30 minutos"):
        accounts.authenticate(storage, "Ana", "not the password", later)
    assert accounts._lock_time(100) == accounts.MAX_LOCK_TIME


def test_a_new_password_lifts_the_lock(storage: Storage) -> None:
    add_ana(storage)
    fail_times(storage, 4, T0)
    with pytest.raises(Throttled):
        accounts.authenticate(storage, "Ana", "not the password", T0)
    accounts.reset_password(storage, "Ana", "a brand new secret", T0)
    assert accounts.authenticate(storage, "Ana", "a brand new secret", T0).name == "Ana"


def test_a_disabled_account_reveals_nothing(storage: Storage) -> None:
    add_ana(storage)
    accounts.disable_agent(storage, "Ana", T0)
    for _ in range(7):  # never locked, never told apart from a wrong password
        with pytest.raises(AuthError) as refused:
            accounts.authenticate(storage, "Ana", PASSWORD, T0)
        assert str(refused.value) == "Nome ou senha incorretos."


# -- sessions -------------------------------------------------------------------------


def test_a_session_is_stored_only_as_a_hash(storage: Storage) -> None:
    ana = add_ana(storage)
    token, csrf = accounts.start_session(storage, ana, T0)
    assert len(token) >= 43 and len(csrf) >= 43 and token != csrf
    stored = everything_stored(storage)
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert accounts.session_account(storage, token, T0) == (ana, csrf)
    other_token, other_csrf = accounts.start_session(storage, ana, T0)
    assert other_token != token and other_csrf != csrf


@pytest.mark.parametrize("token", [None, "", "nonsense", "x" * 10_000])
def test_an_unknown_token_has_no_session(storage: Storage, token: str | None) -> None:
    accounts.start_session(storage, add_ana(storage), T0)
    assert accounts.session_account(storage, token, T0) is None
    accounts.end_session(storage, token)  # nothing to end, no error


def test_a_session_expires_unless_used(storage: Storage) -> None:
    ana = add_ana(storage)
    idle, _ = accounts.start_session(storage, ana, T0, lifetime=dt.timedelta(minutes=30))
    used, _ = accounts.start_session(storage, ana, T0, lifetime=dt.timedelta(minutes=30))
    assert accounts.session_account(storage, idle, T0 + dt.timedelta(minutes=29, seconds=59))
    assert accounts.session_account(storage, used, T0 + dt.timedelta(minutes=20))
    assert accounts.session_account(storage, idle, T0 + dt.timedelta(minutes=60)) is None
    assert accounts.session_account(storage, used, T0 + dt.timedelta(minutes=49))
    assert accounts.session_account(storage, used, T0 + dt.timedelta(minutes=80)) is None
    # An expired session is gone: a clock set back does not bring it back.
    assert accounts.session_account(storage, used, T0 + dt.timedelta(minutes=1)) is None


def test_a_session_slides_only_once_a_minute(storage: Storage) -> None:
    token, _ = accounts.start_session(
        storage, add_ana(storage), T0, lifetime=dt.timedelta(minutes=30)
    )
    assert accounts.session_account(storage, token, T0 + dt.timedelta(seconds=59))
    assert accounts.session_account(storage, token, T0 + dt.timedelta(minutes=30)) is None


def test_sliding_stops_twelve_hours_after_sign_in(storage: Storage) -> None:
    token, _ = accounts.start_session(storage, add_ana(storage), T0)  # 8 hours
    for hours in (7, 11, 11.99):
        assert accounts.session_account(storage, token, T0 + dt.timedelta(hours=hours))
    assert accounts.session_account(storage, token, T0 + dt.timedelta(hours=12)) is None
    ana = accounts.get_account(storage, "Ana")
    assert ana is not None
    long, _ = accounts.start_session(storage, ana, T0, lifetime=dt.timedelta(days=3))
    assert accounts.session_account(storage, long, T0 + dt.timedelta(hours=11, minutes=59))
    assert accounts.session_account(storage, long, T0 + dt.timedelta(hours=12)) is None


def test_end_session(storage: Storage) -> None:
    ana = add_ana(storage)
    token, _ = accounts.start_session(storage, ana, T0)
    kept, _ = accounts.start_session(storage, ana, T0)
    accounts.end_session(storage, token)
    assert accounts.session_account(storage, token, T0) is None
    assert accounts.session_account(storage, kept, T0) is not None


@pytest.mark.parametrize("action", ["disable", "reset"])
def test_disable_and_reset_end_sessions(storage: Storage, action: str) -> None:
    ana = add_ana(storage)
    bia = accounts.add_agent(storage, "Bia", PASSWORD, ["cac"], now=T0)
    token, _ = accounts.start_session(storage, ana, T0)
    other, _ = accounts.start_session(storage, bia, T0)
    if action == "disable":
        accounts.disable_agent(storage, "Ana", T0)
    else:
        accounts.reset_password(storage, "Ana", "a brand new secret", T0)
    assert accounts.session_account(storage, token, T0) is None
    assert accounts.session_account(storage, other, T0) is not None


def test_a_session_sees_the_accounts_changes(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.ensure_agent("Ana", T0)
    ana = add_ana(storage)
    token, _ = accounts.start_session(storage, ana, T0)
    with storage.transaction() as tx:  # e.g. an admin disabled her on another worker
        record = tx.agent_record("Ana")
        assert record is not None
        tx.set_agent_active(record.id, False)
    assert accounts.session_account(storage, token, T0) is None


# -- the command line -----------------------------------------------------------------


def civic(storage: Storage, *args: str, input: str | None = None, code: int = 0) -> str:
    url = storage.engine.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["agents", *args, "--database-url", url], input=input)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_add_list_disable(storage: Storage) -> None:
    out = civic(storage, "add", "Ana", "--departments", "cac,procon", "--password-stdin",
                input=PASSWORD + "\n")  # fmt: skip
    assert "Added Ana (cac, procon)" in out
    civic(storage, "add", "Chefe", "--admin", input="um segredo grande\num segredo grande\n")
    assert accounts.authenticate(storage, "Ana", PASSWORD, T0).departments == ("cac", "procon")
    assert accounts.authenticate(storage, "Chefe", "um segredo grande", T0).is_admin
    with storage.transaction() as tx:
        tx.ensure_agent("Bia", T0)
    rows = json.loads(civic(storage, "list", "--format", "json"))
    assert rows == [
        {"name": "Ana", "departments": ["cac", "procon"], "admin": False, "active": True,
         "has_password": True},
        {"name": "Bia", "departments": [], "admin": False, "active": True,
         "has_password": False},
        {"name": "Chefe", "departments": [], "admin": True, "active": True,
         "has_password": True},
    ]  # fmt: skip
    civic(storage, "disable", "Ana")
    table = civic(storage, "list").splitlines()
    assert table[0].split() == ["NAME", "STATUS", "DEPARTMENTS"]
    assert table[1].split() == ["Ana", "disabled", "cac,", "procon"]
    assert table[2].split() == ["Bia", "no", "password", "no", "department"]
    assert "admin: every department" in table[3]
    assert PASSWORD not in everything_stored(storage)


def test_cli_reset_password(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.ensure_agent("Bia", T0)
    out = civic(storage, "reset-password", "Bia", "--password-stdin", input=PASSWORD + "\r\n")
    assert "New password set for Bia" in out
    assert accounts.authenticate(storage, "Bia", PASSWORD, T0).name == "Bia"
    out = civic(storage, "reset-password", "Carla", "--password-stdin", input=PASSWORD, code=1)
    assert "no attendant called 'Carla'" in out
    out = civic(storage, "reset-password", "Bia", "--password-stdin", input="curta\n", code=2)
    assert "at least 10 characters" in out
    assert accounts.authenticate(storage, "Bia", PASSWORD, T0).name == "Bia"


def test_cli_errors(storage: Storage) -> None:
    out = civic(storage, "add", "Ana", "-d", "cac", "--password-stdin", input="curta\n", code=2)
    assert "at least 10 characters" in out
    out = civic(storage, "add", "Ana", "-d", "obras", "--password-stdin", input=PASSWORD, code=2)
    assert "unknown department 'obras'" in out and "cac" in out
    out = civic(storage, "add", "Ana", "-d", "cac", "--password-stdin", input="", code=2)
    assert "no password on standard input" in out
    out = civic(storage, "add", "Ana", "--password-stdin", input=PASSWORD, code=2)
    assert "--departments" in out
    assert accounts.list_agents(storage) == []
    civic(storage, "add", "Ana", "-d", "cac", "--password-stdin", input=PASSWORD)
    out = civic(storage, "add", "Ana", "-d", "cac", "--password-stdin", input=PASSWORD, code=1)
    assert "has an account already" in out
    out = civic(storage, "disable", "Carla", code=1)
    assert "no attendant called 'Carla'" in out
    out = civic(storage, "add", "Bia", "-d", "cac", input=f"{PASSWORD}\nsomething else\n", code=1)
    assert "do not match" in out  # the prompt asks again, then the input runs out
    assert [a.name for a in accounts.list_agents(storage)] == ["Ana"]


def test_parallel_attempts_check_no_more_passwords_than_the_lock_allows(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty guesses at once: only the first five passwords are checked, then the lock
    holds for every one of them, even though all were sent before any failed."""
    add_ana(storage)
    checked: list[str] = []
    guard = threading.Lock()
    verify = accounts._verify

    def counting(password_hash: str, password: str) -> bool:
        with guard:
            checked.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(accounts, "_verify", counting)
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def guess(number: int) -> None:
        start.wait()
        try:
            accounts.authenticate(storage, "Ana", f"guess {number}", T0)
        except Throttled:
            outcome = "throttled"
        except AuthError:
            outcome = "refused"
        else:
            outcome = "signed in"
        with guard:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == accounts.MAX_FAILURES
    assert sorted(set(outcomes)) == ["refused", "throttled"]
    assert outcomes.count("throttled") == 20 - accounts.MAX_FAILURES + 1
    with pytest.raises(Throttled):  # and the right password waits for the lock too
        accounts.authenticate(storage, "Ana", PASSWORD, T0 + dt.timedelta(minutes=1))
