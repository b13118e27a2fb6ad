"""Where an instance keeps its files, and its secret.

``CIVIC_HOME`` overrides the per-user data folder (``platformdirs.user_data_dir("civic")``,
for example ``~/.local/share/civic`` on Linux). The default database is ``civic.db`` there.
The folder is created readable by its owner only, and so are the files civic keeps in it
(``secret.key``, ``cpf.key``, the SQLite database); see ``docs/security.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from civic.engine import Engine
    from civic.storage import Storage

SECRET_ENV = "CIVIC_SECRET"
SECRET_FILE = "secret.key"
#: The shortest secret accepted, in bytes (a generated one has 64).
MIN_SECRET_LENGTH = 16
_NEW_SECRET_HINT = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


class SecretError(RuntimeError):
    """A secret of this instance is unusable: the secret of the CPF hashes is empty or too
    short, or (:class:`civic.crypto.VaultError`) a CPF key is invalid. The message says
    what is wrong and how to fix it."""


def home() -> Path:
    """The instance folder, created owner-only (0700) when missing."""
    path = Path(os.environ.get("CIVIC_HOME") or platformdirs.user_data_dir("civic"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def create_private_file(path: Path, text: str) -> str:
    """Create ``path`` holding ``text``, readable by its owner only, unless it exists;
    return what the file holds.

    Atomic, for several workers starting at once: ``text`` is written to a temporary file
    (0600) in the same folder, which is then hard-linked to ``path``. The link fails when
    ``path`` already exists, and then the existing file is read instead (at most
    :data:`civic.files.KEY_FILE_LIMIT` bytes). Nobody ever sees a partly written file.
    """
    from civic import files

    try:
        return files.read_text(path, files.KEY_FILE_LIMIT)
    except FileNotFoundError:
        pass
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another worker created it first: use theirs
            return files.read_text(path, files.KEY_FILE_LIMIT)
        return text
    finally:
        os.unlink(temporary)


def default_database_url() -> str:
    """``CIVIC_DATABASE_URL`` if set, else the SQLite file in :func:`home`."""
    return os.environ.get("CIVIC_DATABASE_URL") or f"sqlite:///{home() / 'civic.db'}"


def load_secret() -> bytes:
    """The key of the CPF hashes: ``CIVIC_SECRET``, else ``secret.key`` in :func:`home`.

    The file is created with a random key, readable by its owner only, on first run
    (atomically: workers starting together all read the same key). Keep it apart from
    database backups: with it, a stolen database's CPF hashes could be tested against
    every possible CPF. Several workers must share the same secret. An empty or short
    secret (under :data:`MIN_SECRET_LENGTH`) raises :class:`SecretError`.
    """
    from_env = os.environ.get(SECRET_ENV)
    if from_env is not None:
        return _checked_secret(from_env.encode("utf-8"), SECRET_ENV, is_file=False)
    path = home() / SECRET_FILE
    text = create_private_file(path, secrets.token_hex(32) + "\n")
    return _checked_secret(text.strip().encode("utf-8"), str(path), is_file=True)


def _checked_secret(secret: bytes, source: str, *, is_file: bool) -> bytes:
    """``secret`` if it is long enough, else a :class:`SecretError` saying what to do."""
    if len(secret.strip()) >= MIN_SECRET_LENGTH:
        return secret
    problem = f"is too short ({len(secret)} bytes)" if secret.strip() else "is empty"
    if is_file:
        remedy = (
            "if this installation has no citizens yet, delete the file and civic makes a "
            "new one; otherwise put the installation's secret back in it"
        )
    else:
        remedy = f"set it to the installation's secret, or unset it to use {home() / SECRET_FILE}"
    raise SecretError(
        f"the instance secret in {source} {problem}: it needs at least {MIN_SECRET_LENGTH} "
        f"random characters ({_NEW_SECRET_HINT} makes one); {remedy}"
    )


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


class InstanceError(RuntimeError):
    """The instance cannot be opened (configuration, database, secret); the message says
    why, for the operator."""


def open_engine(config_path: str | os.PathLike[str] | None, database_url: str | None) -> Engine:
    """The engine over this instance: the city's configuration, the database (upgraded),
    the secret checked against it. Every command and ``civic serve`` open it this way.

    Raises :class:`InstanceError` with a clear message.
    """
    from civic.config import ConfigError, load_config
    from civic.crypto import VaultError
    from civic.engine import Engine
    from civic.storage import Storage, StorageError

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise InstanceError("invalid configuration:\n" + "\n".join(exc.problems)) from None
    try:
        storage = Storage(database_url or default_database_url())
        storage.migrate()
    except StorageError as exc:
        raise InstanceError(str(exc)) from None
    except OSError as exc:
        raise InstanceError(f"cannot create the civic data folder: {exc}") from None
    try:
        secret = load_secret()
        verify_secret(storage, secret)
        return Engine(storage, secret=secret, config=config)
    except ConfigError as exc:
        storage.close()
        raise InstanceError("invalid configuration:\n" + "\n".join(exc.problems)) from None
    except (SecretError, SecretMismatch, VaultError, OSError) as exc:
        storage.close()
        raise InstanceError(str(exc)) from None
