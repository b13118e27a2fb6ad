"""Encryption at rest for CPFs and other document numbers (Fernet, from ``cryptography``).

The keys come from ``CIVIC_CPF_KEYS`` (Fernet keys separated by commas), else from the
file ``cpf.key`` in the instance folder (one key per line; blank lines and ``#`` comments
are ignored), which is created with a new key, owner-only, on first use. The first key
encrypts; every key decrypts, so a new key can be put first while values encrypted with
the old ones are still read, until ``civic keys rotate`` re-encrypts them. See
``docs/security.md``.

Build one :class:`Vault` (with :func:`load_vault`) per engine and keep it: encrypting and
decrypting are then cheap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from civic import instance

KEYS_ENV = "CIVIC_CPF_KEYS"
KEY_FILE = "cpf.key"
_NEW_KEY_HINT = (
    "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class VaultError(instance.SecretError):
    """The CPF keys are missing or invalid; the message says which and how to fix it.

    A :class:`civic.instance.SecretError`, so a command that reports an unusable secret
    reports unusable keys the same way.
    """


class DecryptionError(VaultError):
    """A stored value that none of the CPF keys opens."""


def new_key() -> str:
    """A new random Fernet key (44 URL-safe base64 characters)."""
    return Fernet.generate_key().decode("ascii")


class Vault:
    """Encrypts text with the first key; decrypts what any of the keys encrypted.

    Tokens are Fernet tokens (URL-safe ASCII, authenticated: a changed token does not
    decrypt). ``source`` names where the keys came from, for error messages; the keys
    themselves never appear in a message or a ``repr``.
    """

    __slots__ = ("_fernet", "key_count", "source")

    def __init__(self, keys: Iterable[str | bytes], *, source: str = "the keys given") -> None:
        fernets: list[Fernet] = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                raise VaultError(
                    f"key {position} in {source} is not a Fernet key (32 bytes, URL-safe "
                    f"base64: 44 characters); make one with {_NEW_KEY_HINT}"
                ) from None
        if not fernets:
            raise VaultError(f"{source} holds no CPF key; make one with {_NEW_KEY_HINT}")
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)
        self.source = source

    def __repr__(self) -> str:
        return f"<Vault {self.key_count} key(s) from {self.source}>"

    def encrypt(self, text: str) -> str:
        """``text`` encrypted with the first key."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The text of a token any of the keys opens; :class:`DecryptionError` if none."""
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except (InvalidToken, ValueError):
            raise self._unreadable() from None

    def rotate(self, token: str) -> str:
        """The same text, re-encrypted with the first key (for ``civic keys rotate``)."""
        try:
            return self._fernet.rotate(token).decode("ascii")
        except (InvalidToken, ValueError):
            raise self._unreadable() from None

    def encrypt_json(self, value: Mapping[str, Any]) -> str:
        """A JSON object, encrypted (form answers that hold a document number)."""
        return self.encrypt(json.dumps(value, ensure_ascii=False))

    def decrypt_json(self, token: str) -> dict[str, Any]:
        """The JSON object :meth:`encrypt_json` encrypted."""
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise DecryptionError("an encrypted value holds JSON that is not an object")
        return value

    def _unreadable(self) -> DecryptionError:
        return DecryptionError(
            f"a stored encrypted value opens with none of the {self.key_count} CPF key(s) "
            f"in {self.source}: was the key that encrypted it removed? Put it back, after "
            "the first key"
        )


def load_vault() -> Vault:
    """The vault of this instance: keys from ``CIVIC_CPF_KEYS``, else ``cpf.key``.

    ``cpf.key`` is created in :func:`civic.instance.home` with one new key, owner-only and
    atomically, when neither exists. Raises :class:`VaultError` for a key that is not a
    Fernet key, or when ``CIVIC_CPF_KEYS`` is set but holds none.
    """
    from_env = os.environ.get(KEYS_ENV)
    if from_env is not None:
        return Vault(_keys(from_env.split(",")), source=KEYS_ENV)
    path = key_file()
    text = instance.create_private_file(path, new_key() + "\n")
    return Vault(_keys(text.splitlines()), source=str(path))


def key_file() -> Path:
    """Where the keys are kept when ``CIVIC_CPF_KEYS`` is not set."""
    return instance.home() / KEY_FILE


def _keys(items: Iterable[str]) -> list[str]:
    """The keys among ``items``: stripped, without blanks and ``#`` comments."""
    stripped = (item.strip() for item in items)
    return [item for item in stripped if item and not item.startswith("#")]
