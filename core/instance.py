"""Where an instance keeps its files, and its secret.

``CIVIC_HOME`` overrides the per-user data folder (``platformdirs.user_data_dir("civic")``,
for example ``~/.local/share/civic`` on Linux). The default database is ``civic.db`` there.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from civic.storage import Storage

SECRET_ENV = "CIVIC_SECRET"


def home() -> Path:
    """The instance folder (created when missing)."""
    path = Path(os.environ.get("CIVIC_HOME") or platformdirs.user_data_dir("civic"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    """``CIVIC_DATABASE_URL`` if set, else the SQLite file in :func:`home`."""
    return os.environ.get("CIVIC_DATABASE_URL") or f"sqlite:///{home() / 'civic.db'}"


def load_secret() -> bytes:
    """The key of the CPF hashes: ``CIVIC_SECRET``, else ``secret.key`` in :func:`home`.

    The file is created with a random key, readable by its owner only, on first run. Keep
    it apart from database backups: with it, a stolen database's CPF hashes could be
    tested against every possible CPF. Several workers must share the same secret.
    """
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return from_env.encode("utf-8")
    path = home() / "secret.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip().encode("ascii")


class SecretMismatch(RuntimeError):
    """The secret differs from the one the database's CPF hashes were made with."""


def verify_secret(storage: Storage, secret: bytes) -> None:
    """Record the secret's fingerprint on first use; refuse a different secret later.

    Without this check a worker with another secret would silently stop recognising
    returning citizens.
    """
    fingerprint = hmac.new(secret, b"civic secret fingerprint", hashlib.sha256).hexdigest()
    with storage.transaction() as tx:
        stored = tx.get_setting("secret_fingerprint")
        if stored is None:
            tx.put_setting("secret_fingerprint", fingerprint)
        elif not hmac.compare_digest(stored, fingerprint):
            raise SecretMismatch(
                "this database was set up with a different secret: set CIVIC_SECRET (or "
                f"{home() / 'secret.key'}) to the secret of the first installation"
            )
