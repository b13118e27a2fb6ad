"""Encryption at rest: the Vault, its keys, and ``civic keys rotate``."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from civic.crypto import DecryptionError, Vault, VaultError, load_vault, new_key
from civic.instance import SecretError
from civic.storage import Storage, insert_rows

CPF = "52998224725"
OLD, NEW = new_key(), new_key()


def test_round_trip() -> None:
    vault = Vault([OLD])
    token = vault.encrypt(CPF)
    assert CPF not in token
    assert vault.decrypt(token) == CPF
    assert vault.encrypt(CPF) != token  # a fresh IV each time
    assert vault.decrypt(vault.encrypt("João Ninguém, ação")) == "João Ninguém, ação"
    answers = {"cpf_consumidor": CPF, "nota": 10}
    assert vault.decrypt_json(vault.encrypt_json(answers)) == answers


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old_token = Vault([OLD]).encrypt(CPF)
    both = Vault([NEW, OLD])
    assert both.decrypt(old_token) == CPF
    assert Vault([NEW]).decrypt(both.encrypt(CPF)) == CPF
    rotated = both.rotate(old_token)
    assert Vault([NEW]).decrypt(rotated) == CPF
    with pytest.raises(DecryptionError):
        Vault([OLD]).decrypt(rotated)


@pytest.mark.parametrize("token", ["wrong key", "not a token", "ção", ""])
def test_a_value_no_key_opens_is_a_clear_error(token: str) -> None:
    if token == "wrong key":
        token = Vault([OLD]).encrypt(CPF)
    vault = Vault([NEW], source="CIVIC_CPF_KEYS")
    message = r"none of the 1 CPF key\(s\) in CIVIC_CPF_KEYS: was the key .* removed"
    with pytest.raises(DecryptionError, match=message):
        vault.decrypt(token)
    with pytest.raises(DecryptionError, match=message):
        vault.rotate(token)


def test_a_key_that_is_not_a_fernet_key_is_refused_without_showing_it() -> None:
    with pytest.raises(VaultError, match="key 2 in the keys given is not a Fernet key") as raised:
        Vault([OLD, "hunter2-not-a-key"])
    assert "hunter2" not in str(raised.value)
    with pytest.raises(VaultError, match="holds no CPF key"):
        Vault([])
    assert OLD not in repr(Vault([OLD]))


# -- where the keys come from ---------------------------------------------------------


def test_the_key_file_is_created_owner_only_then_reused(_isolated_home: Path) -> None:
    path = _isolated_home / "cpf.key"
    token = load_vault().encrypt(CPF)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().split()) == 1
    again = load_vault()
    assert again.decrypt(token) == CPF
    assert again.source == str(path)


def test_the_key_file_may_hold_several_keys_and_comments(_isolated_home: Path) -> None:
    (_isolated_home / "cpf.key").write_text(f"# since 2026-05\n{NEW}\n\n# old\n{OLD}\n")
    vault = load_vault()
    assert vault.key_count == 2
    assert vault.decrypt(Vault([OLD]).encrypt(CPF)) == CPF
    assert Vault([NEW]).decrypt(vault.encrypt(CPF)) == CPF


def test_the_environment_overrides_the_file(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_isolated_home / "cpf.key").write_text(f"{OLD}\n")
    monkeypatch.setenv("CIVIC_CPF_KEYS", f" {NEW} , {OLD} ")
    vault = load_vault()
    assert (vault.source, vault.key_count) == ("CIVIC_CPF_KEYS", 2)
    assert Vault([NEW]).decrypt(vault.encrypt(CPF)) == CPF


def test_the_environment_never_creates_a_key_file(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVIC_CPF_KEYS", NEW)
    load_vault()
    assert not (_isolated_home / "cpf.key").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "CIVIC_CPF_KEYS holds no CPF key"),
        (" , ", "CIVIC_CPF_KEYS holds no CPF key"),
        (f"{NEW},short", "key 2 in CIVIC_CPF_KEYS is not a Fernet key"),
    ],
    ids=["empty", "blank", "short-second"],  # NEW is random: xdist workers must agree on ids
)
def test_unusable_keys_in_the_environment_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("CIVIC_CPF_KEYS", value)
    with pytest.raises(VaultError, match=message):
        load_vault()
    with pytest.raises(SecretError):  # what `civic run` reports as an error, no traceback
        load_vault()


def test_an_unusable_key_file_is_refused(_isolated_home: Path) -> None:
    (_isolated_home / "cpf.key").write_text("# nothing but a comment\n")
    with pytest.raises(VaultError, match=r"cpf\.key holds no CPF key"):
        load_vault()


# -- civic keys rotate ----------------------------------------------------------------


def seed_encrypted(storage: Storage, vault: Vault) -> None:
    """Three citizens (one without an encrypted CPF) and two submissions, one with
    encrypted answers."""
    now = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
    with storage.transaction() as tx:
        insert_rows(
            tx,
            "citizen",
            [
                {
                    "id": n,
                    "name": f"Pessoa {n}",
                    "cpf_hash": f"{n}" * 64,
                    "cpf_masked": "***.***.***-**",
                    "cpf_encrypted": vault.encrypt(f"{CPF[:-1]}{n}") if n != 2 else None,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for n in (1, 2, 3)
            ],
        )
        conversation = {"channel": "t", "state": "closed", "context": "{}"}
        insert_rows(
            tx,
            "conversation",
            [{**conversation, "id": 1, "address": "a", "opened_at": now, "updated_at": now}],
        )
        insert_rows(
            tx,
            "submission",
            [
                {
                    "id": n,
                    "conversation_id": 1,
                    "department": "procon",
                    "form": "reclamacao",
                    "protocol": f"PROCON-2026-00000{n}",
                    "status": "received",
                    "data": "{}",
                    "secret_data": vault.encrypt_json({"cpf": CPF}) if n == 1 else None,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in (1, 2)
            ],
        )


def encrypted_values(storage: Storage) -> list[str | None]:
    with storage.engine.connect() as conn:
        cpfs = conn.execute(sa.text("SELECT cpf_encrypted FROM citizen ORDER BY id")).scalars()
        answers = conn.execute(sa.text("SELECT secret_data FROM submission ORDER BY id"))
        return [*cpfs, *answers.scalars()]


def test_keys_rotate_re_encrypts_every_value_with_the_first_key(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civic.cli import app

    seed_encrypted(storage, Vault([OLD]))
    monkeypatch.setenv("CIVIC_CPF_KEYS", f"{NEW},{OLD}")
    result = CliRunner().invoke(
        app, ["keys", "rotate", "--database-url", storage.url, "--batch-size", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 value(s) with the first key of CIVIC_CPF_KEYS." in result.output
    cpf1, empty, cpf3, answers, no_answers = encrypted_values(storage)
    new_only = Vault([NEW])
    assert [new_only.decrypt(cpf1), empty, new_only.decrypt(cpf3)] == [
        f"{CPF[:-1]}1",
        None,
        f"{CPF[:-1]}3",
    ]
    assert (new_only.decrypt_json(answers), no_answers) == ({"cpf": CPF}, None)  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        Vault([OLD]).decrypt(cpf1)  # type: ignore[arg-type]


def test_keys_rotate_without_the_old_key_changes_nothing(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civic.cli import app

    seed_encrypted(storage, Vault([OLD]))
    before = encrypted_values(storage)
    monkeypatch.setenv("CIVIC_CPF_KEYS", NEW)
    result = CliRunner().invoke(app, ["keys", "rotate", "--database-url", storage.url])
    assert result.exit_code == 1
    assert "Error: a stored encrypted value opens with none of the 1 CPF key(s)" in result.output
    assert "Traceback" not in result.output
    assert encrypted_values(storage) == before


def test_keys_rotate_reports_unusable_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from civic.cli import app

    monkeypatch.setenv("CIVIC_CPF_KEYS", "not-a-key")
    result = CliRunner().invoke(
        app, ["keys", "rotate", "--database-url", f"sqlite:///{tmp_path / 'civic.db'}"]
    )
    assert result.exit_code == 1
    assert "Error: key 1 in CIVIC_CPF_KEYS is not a Fernet key" in result.output


def test_the_keys_module_is_light_to_import() -> None:
    """``civic --help`` imports cli_keys: it must not pull in the database layer."""
    code = (
        "import sys, civic.cli_keys\n"
        "print('sqlalchemy' in sys.modules, 'civic.crypto' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout == "False False\n"
