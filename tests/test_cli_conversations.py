"""The staff's commands and the terminal channel, driven as an operator and a citizen do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic.cli import app

runner = CliRunner()
MARIA = "Maria José dos Santos 529.982.247-25"


def civic(db: Path, *args: str, input: str | None = None, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--database-url", f"sqlite:///{db}"], input=input)
    assert result.exit_code == code, result.output
    return result.output


def citizen(db: Path, *lines: str, fmt: str = "jsonl") -> list[dict[str, object]]:
    out = civic(db, "run", "--as", "5535999990001", "--format", fmt, input="\n".join(lines) + "\n")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_citizen_and_the_team_by_commands_alone(tmp_path: Path) -> None:
    db = tmp_path / "civic.db"
    replies = citizen(db, MARIA, "quero falar com uma pessoa")
    assert replies[-1]["state"] == "waiting_human"
    conversation = replies[-1]["conversation"]
    (waiting,) = json.loads(
        civic(db, "conversations", "list", "--state", "waiting_human", "--format", "json")
    )
    assert waiting["id"] == conversation and waiting["citizen_name"] == "Maria José dos Santos"
    assert waiting["waiting_seconds"] >= 0
    civic(db, "conversations", "take", str(conversation), "--agent", "Ana")
    civic(
        db,
        "conversations",
        "reply",
        str(conversation),
        "Olá Maria, aqui é a Ana.",
        "--agent",
        "Ana",
    )
    civic(
        db,
        "conversations",
        "transfer",
        str(conversation),
        "procon",
        "--note",
        "loja",
        "--agent",
        "Ana",
    )
    civic(db, "conversations", "take", str(conversation), "--agent", "Bia")
    civic(
        db,
        "conversations",
        "reply",
        str(conversation),
        "Bia do PROCON: pode contar.",
        "--agent",
        "Bia",
    )
    civic(db, "conversations", "close", str(conversation), "--agent", "Bia")
    # The citizen comes back: first what waited in the outbox, then the answers.
    replies = citizen(db, "10", "não")
    authors = [(r["author"], r["agent"]) for r in replies]
    assert authors[:4] == [("agent", "Ana"), ("system", None), ("agent", "Bia"), ("bot", None)]
    assert "PROCON" in str(replies[1]["text"]) and "de 0 a 10" in str(replies[3]["text"])
    assert replies[-1]["state"] == "closed"
    assert citizen(db, "oi")[0]["conversation"] != conversation  # nothing printed twice
    history = json.loads(civic(db, "conversations", "show", str(conversation), "--format", "json"))
    assert [
        h["agent"] for h in history["history"] if h["author"] == "agent" and h["kind"] == "message"
    ] == ["Ana", "Bia"]
    text = civic(db, "conversations", "show", str(conversation))
    assert "Bia (agent)" in text and "transferred by Ana" in text
    report = json.loads(civic(db, "report", "--by", "agent", "--format", "json"))
    (bia,) = [g for g in report["groups"] if g["key"] == "Bia"]
    assert bia["indicators"]["mean_score"] == 10
    assert bia["indicators"]["median_first_response_seconds"] is not None


def test_staff_errors_are_clear_and_exit_non_zero(tmp_path: Path) -> None:
    db = tmp_path / "civic.db"
    citizen(db, MARIA)
    out = civic(db, "conversations", "take", "1", "--agent", "Ana", code=1)
    assert "not waiting for a person" in out
    assert "no conversation 99" in civic(db, "conversations", "show", "99", code=1)
    assert "unknown state" in civic(db, "conversations", "list", "--state", "x", code=2)
    out = civic(db, "conversations", "transfer", "1", "nowhere", code=1)
    assert "unknown department 'nowhere'" in out


def test_expire_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "civic.db"
    citizen(db, MARIA)
    assert "0 conversation(s) closed" in civic(db, "conversations", "expire")


KILLER = """
import os, signal
from civic import hookimpl

@hookimpl
def conversation_opened(conversation):
    if os.environ.get("CIVIC_TEST_KILL"):
        os.kill(os.getpid(), signal.SIGKILL)  # after the commit, before printing
"""


def test_killed_between_storing_and_printing_the_retry_prints_the_replies_once(
    tmp_path: Path,
) -> None:
    plugin = tmp_path / "killer.py"
    plugin.write_text(KILLER)
    env = {**os.environ, "CIVIC_PLUGINS": str(plugin), "CIVIC_TEST_KILL": "1"}
    command = [
        sys.executable, "-m", "civic", "run", "--as", "A", "--input", "jsonl",
        "--format", "jsonl", "--database-url", f"sqlite:///{tmp_path / 'civic.db'}",
    ]  # fmt: skip
    line = json.dumps({"text": MARIA, "id": "msg-1"}) + "\n"
    killed = subprocess.run(command, input=line, env=env, capture_output=True, text=True)
    assert killed.returncode == -9 and killed.stdout == ""
    del env["CIVIC_TEST_KILL"]
    retry = subprocess.run(command, input=line, env=env, capture_output=True, text=True)
    assert retry.returncode == 0, retry.stderr
    texts = [json.loads(out)["text"] for out in retry.stdout.splitlines()]
    assert any("Obrigado, Maria!" in text for text in texts)
    assert len(texts) == len(set(texts))  # each reply once
    again = subprocess.run(command, input=line, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""  # already delivered


@pytest.mark.parametrize("bad", ['{"id": "x"}', "not json", '{"text": "oi", "id": [1]}'])
def test_bad_jsonl_input_is_an_operator_error(tmp_path: Path, bad: str) -> None:
    db = tmp_path / "civic.db"
    out = civic(db, "run", "--as", "A", "--input", "jsonl", input=bad + "\n", code=2)
    assert "input line 1" in out
