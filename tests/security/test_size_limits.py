"""Point 2: every input is read with a size limit, and refusing it is quick and clear."""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic import files
from civic.channels import Host, collect_channels
from civic.channels import webchat as webchat_channel
from civic.channels import whatsapp as whatsapp_channel
from civic.cli import app
from civic.console import web as console_web
from civic.serve import create_app
from civic.testing import Harness

with warnings.catch_warnings():  # Starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

runner = CliRunner()
DEV_ZERO = "/dev/zero"
needs_dev_zero = pytest.mark.skipif(not os.path.exists(DEV_ZERO), reason="no /dev/zero here")


# -- the helper -------------------------------------------------------------------------


def test_a_file_at_the_limit_is_read_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert files.read_bytes(path, 100) == b"x" * 100
    path.write_bytes(b"x" * 101)
    with pytest.raises(files.FileTooLarge, match=r"larger than 100 bytes"):
        files.read_bytes(path, 100)


def test_lines_are_read_with_a_limit() -> None:
    handle = io.BytesIO(b"short\n" + b"y" * 50 + b"\nend")
    assert files.read_line(handle, 10) == b"short\n"
    with pytest.raises(files.FileTooLarge, match="longer than 10 bytes"):
        files.read_line(handle, 10)
    assert files.read_line(io.BytesIO(b""), 10) is None
    assert files.read_line(io.BytesIO(b"x" * 10 + b"\n"), 10) == b"x" * 10 + b"\n"


def test_limits_are_said_as_operators_read_them() -> None:
    assert files.describe(files.CONFIG_LIMIT) == "1 MiB"
    assert files.describe(files.KEY_FILE_LIMIT) == "64 KiB"
    assert files.describe(1000) == "1000 bytes"


# -- files an operator names ------------------------------------------------------------


@needs_dev_zero
def test_forms_validate_dev_zero_fails_fast() -> None:
    result = runner.invoke(app, ["forms", "validate", DEV_ZERO])
    assert result.exit_code == 1
    assert f"{DEV_ZERO}: cannot read: {DEV_ZERO}: larger than 1 MiB" in result.stderr


def test_forms_validate_a_large_file(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"title": "x" * (files.FORM_LIMIT + 10)}), encoding="utf-8")
    result = runner.invoke(app, ["forms", "validate", str(big)])
    assert result.exit_code == 1 and "larger than 1 MiB" in result.stderr


def test_forms_validate_deeply_nested_json(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = runner.invoke(app, ["forms", "validate", str(deep)])
    assert result.exit_code == 1 and "cannot read JSON" in result.stderr


@needs_dev_zero
def test_config_check_of_a_configuration_that_never_ends() -> None:
    result = runner.invoke(app, ["config", "check", DEV_ZERO])
    assert result.exit_code == 1
    assert f"{DEV_ZERO}: cannot read: {DEV_ZERO}: larger than 1 MiB" in result.stderr


@needs_dev_zero
def test_civic_run_with_a_configuration_that_never_ends(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'c.db'}"
    result = runner.invoke(
        app, ["run", "--config", DEV_ZERO, "--database-url", database], input="oi\n"
    )
    assert result.exit_code == 1
    assert "invalid configuration" in result.stderr and "larger than 1 MiB" in result.stderr


@pytest.mark.parametrize("input_format", ["text", "jsonl"])
def test_civic_run_refuses_an_endless_input_line(input_format: str, tmp_path: Path) -> None:
    line = b"x" * (files.LINE_LIMIT + 1)
    result = runner.invoke(
        app,
        ["run", "--input", input_format, "--database-url", f"sqlite:///{tmp_path / 'c.db'}"],
        input=line,
    )
    assert result.exit_code == 2
    assert "input line 1: a line longer than 1 MiB" in result.stderr


def test_civic_run_reads_lines_under_the_limit(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["run", "--input", "jsonl", "--database-url", f"sqlite:///{tmp_path / 'c.db'}"],
        input=json.dumps({"text": "oi " + "x" * 200_000, "id": "m1"}) + "\n",
    )
    assert result.exit_code == 0, result.stderr


@needs_dev_zero
def test_a_key_file_that_never_ends_is_refused(
    tmp_path: Path, _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_isolated_home / "secret.key").symlink_to(DEV_ZERO)
    result = runner.invoke(
        app, ["run", "--database-url", f"sqlite:///{tmp_path / 'c.db'}"], input="oi\n"
    )
    assert result.exit_code == 1
    assert "larger than 64 KiB" in result.stderr


# -- bodies over HTTP -------------------------------------------------------------------


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("CIVIC_WHATSAPP_APP_SECRET", "the-app-secret")
    monkeypatch.setenv("CIVIC_WHATSAPP_ACCESS_TOKEN", "the-token")
    harness = Harness(installed=True)
    host = Host(engine=harness.engine, config=harness.engine.config)
    with TestClient(create_app(host, collect_channels(harness.engine.pm))) as browser:
        yield browser
    harness.close()


@pytest.mark.parametrize(
    ("path", "limit", "content_type"),
    [
        ("/webhooks/whatsapp", whatsapp_channel.BODY_LIMIT, "application/json"),
        ("/chat/messages", webchat_channel.BODY_LIMIT, "application/json"),
        ("/console/login", console_web.BODY_LIMIT, "application/x-www-form-urlencoded"),
    ],
)
def test_every_body_is_refused_past_its_limit(
    client: TestClient, path: str, limit: int, content_type: str
) -> None:
    client.get("/chat")  # the chat's cookie
    headers = {"Content-Type": content_type, "Origin": "http://testserver"}
    body = b"a=" + b"x" * limit
    assert client.post(path, content=body, headers=headers).status_code == 413

    def chunks() -> object:  # no Content-Length: the limit holds while reading
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096

    assert client.post(path, content=chunks(), headers=headers).status_code == 413


def test_a_web_chat_message_is_limited(client: TestClient) -> None:
    client.get("/chat")
    text = "x" * (webchat_channel.TEXT_LIMIT + 1)
    response = client.post(
        "/chat/messages",
        json={"text": text, "id": "message-0001"},
        headers={"Origin": "http://testserver"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == webchat_channel.ERRORS["too_long"]
