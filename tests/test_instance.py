"""The instance folder, its secret, and owner-only files."""

from __future__ import annotations

import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic import instance
from civic.storage import Storage


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which new files are readable by everyone (0644)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


# -- the secret ---------------------------------------------------------------------


def _load_secrets_in_worker(homes: list[str], barrier: object, results: object) -> None:
    """One worker: for each folder in turn, start with the others and read the secret."""
    secrets = []
    for home in homes:
        barrier.wait(timeout=120)  # type: ignore[attr-defined]
        os.environ["CIVIC_HOME"] = home
        try:
            secrets.append(instance.load_secret().decode("ascii"))
        except Exception as exc:  # reported to the test, which fails on it
            secrets.append(f"error: {exc!r}")
    results.put(secrets)  # type: ignore[attr-defined]


def test_concurrent_first_starts_share_one_whole_secret(tmp_path: Path) -> None:
    workers, rounds = 16, 60
    homes = [str(tmp_path / f"home{n}") for n in range(rounds)]  # created by the workers
    context = multiprocessing.get_context("fork")  # the workers need nothing but os
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_load_secrets_in_worker, args=(homes, barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    per_worker = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    for n, home in enumerate(map(Path, homes)):
        seen = {secrets[n] for secrets in per_worker}
        assert len(seen) == 1, (home, seen)
        secret = seen.pop()
        assert len(secret) == 64 and set(secret) <= set("0123456789abcdef")
        assert (home / "secret.key").read_text().strip() == secret
        assert mode(home / "secret.key") == 0o600
        assert sorted(p.name for p in home.iterdir()) == ["secret.key"]  # no temporary left


def test_the_secret_file_is_created_once_and_then_read(_isolated_home: Path) -> None:
    first = instance.load_secret()
    assert instance.load_secret() == first
    assert (_isolated_home / "secret.key").read_bytes().strip() == first


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key"
    assert instance.create_private_file(path, "first\n") == "first\n"
    assert instance.create_private_file(path, "second\n") == "first\n"
    assert path.read_text() == "first\n"
    assert mode(path) == 0o600


def test_the_secret_from_the_environment_wins(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVIC_SECRET", "a-long-enough-secret")
    assert instance.load_secret() == b"a-long-enough-secret"
    assert not (_isolated_home / "secret.key").exists()


@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "is empty"), ("   ", "is empty"), ("short", r"is too short \(5 bytes\)")],
)
def test_an_empty_or_short_secret_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("CIVIC_SECRET", value)
    with pytest.raises(instance.SecretError, match=f"CIVIC_SECRET {problem}.* at least 16"):
        instance.load_secret()


@pytest.mark.parametrize("content", ["", "\n", "0123456789\n"])
def test_an_empty_or_short_secret_file_is_refused(_isolated_home: Path, content: str) -> None:
    path = _isolated_home / "secret.key"
    path.write_text(content)
    with pytest.raises(instance.SecretError, match=f"{path} is (empty|too short).*delete the file"):
        instance.load_secret()
    assert path.read_text() == content  # left for the operator to decide


def test_civic_run_reports_a_short_secret_without_a_traceback(tmp_path: Path) -> None:
    from civic.cli import app

    url = f"sqlite:///{tmp_path / 'civic.db'}"
    result = CliRunner().invoke(
        app, ["run", "--database-url", url], input="oi\n", env={"CIVIC_SECRET": "short"}
    )
    assert result.exit_code == 1
    assert "Error: the instance secret in CIVIC_SECRET is too short" in result.output
    assert "Traceback" not in result.output


# -- owner-only folder and database -------------------------------------------------


def test_the_instance_folder_is_created_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    monkeypatch.setenv("CIVIC_HOME", str(tmp_path / "data" / "civic"))
    folder = instance.home()
    assert folder == tmp_path / "data" / "civic"
    assert mode(folder) == 0o700


def test_a_new_sqlite_database_and_its_companions_are_owner_only(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "civic.db"
    storage = Storage(f"sqlite:///{path}")
    try:
        assert mode(path) == 0o600  # before SQLite ever opened it
        storage.migrate()
        with storage.transaction() as tx:  # a write: the -wal and -shm files exist now
            tx.put_setting("probe", "1")
            companions = [path.with_name("civic.db-wal"), path.with_name("civic.db-shm")]
            assert all(p.exists() for p in companions)
            assert [mode(p) for p in (path, *companions)] == [0o600] * 3
    finally:
        storage.close()


def test_an_existing_sqlite_database_readable_by_others_is_made_owner_only(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "civic.db"
    storage = Storage(f"sqlite:///{path}")
    storage.migrate()
    storage.close()
    files = [path, path.with_name("civic.db-wal"), path.with_name("civic.db-shm")]
    for file in files:
        file.touch()
        file.chmod(0o644)
    Storage(f"sqlite:///{path}").close()
    assert [mode(file) for file in files] == [0o600] * 3
