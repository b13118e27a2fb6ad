"""A citizen's rights over their data (LGPD, Lei 13.709/2018, art. 18), as an operator
and an admin exercise them: ``civic citizens show|export|forget`` and
``/console/citizens``.

The promise pinned here (issue 13): after ``forget``, no command, export, report or
console page shows the citizen's name, CPF, phone or message texts — nor does the
database file — while the report's counts and mean are unchanged.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civic import accounts, instance, staff
from civic.channels import Host
from civic.cli import app
from civic.config import Config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.rights import InvalidCpf, parse_cpf
from civic.storage import Storage
from tests.chat import Chat
from tests.test_webchat import CAC_REQUEST, make_app

with warnings.catch_warnings():  # Starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

runner = CliRunner()

NAME = "Maria José dos Santos"
CPF = "529.982.247-25"
CPF_DIGITS = "52998224725"
PHONE = "5535999990001"
#: The comment and the note hold her name, CPF and phone as people write them.
COMMENT = f"Obrigada! Sou a {NAME}, CPF {CPF}, fone (35) 99999-0001"
OTHER_NAME = "João Pereira Lima"
OTHER_CPF = "111.444.777-35"
OTHER_PHONE = "5535999990002"
#: What must be gone, anywhere, after forget.
SECRETS = (NAME, CPF, CPF_DIGITS, PHONE, "99999-0001", "982.247")


def citizen_story(engine: Engine) -> dict[str, Any]:
    """Maria files a CAC request and rates it with a comment; then asks PROCON for a
    person, whom Rita (admin) serves, reveals her CPF (audited) and closes; Maria rates
    again. João, another citizen, rates a short conversation. Returns ids to check."""
    maria = Chat(engine, PHONE)
    maria.script("oi", f"{NAME} {CPF}", "1")
    for answer, _question in CAC_REQUEST:
        maria.send(answer)
    protocol = re.search(r"CAC-\d{4}-\d{6}", maria.send("confirmar"))
    assert protocol is not None
    maria.script("não", "9", "sim", COMMENT)
    assert maria.state == "closed"
    maria.script("oi", f"{NAME} {CPF}", "2", "quero falar com um atendente")
    assert maria.state == "waiting_human"
    handed = maria.conversations[-1]
    staff.take(engine, handed, "Rita")
    staff.reply(engine, handed, "Rita", f"Olá {NAME}, vou verificar seu caso.")
    staff.reveal_cpf(engine, handed, "Rita", f"conferir cadastro de {NAME}")
    staff.close(engine, handed, "Rita")
    maria.script("8", "não")
    assert maria.state == "closed"
    joao = Chat(engine, OTHER_PHONE)
    joao.script("oi", f"{OTHER_NAME} {OTHER_CPF}", "encerrar", "7", "não")
    assert joao.state == "closed"
    return {"protocol": protocol.group(0), "conversations": maria.conversations}


# -- the CPF as typed -----------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", [CPF, CPF_DIGITS, " 529 982 247 25 ", "529-982-247/25", "５２９.９８２.２４７-２５"]
)
def test_a_cpf_is_read_however_it_is_typed(typed: str) -> None:
    assert parse_cpf(typed) == CPF_DIGITS


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "no CPF"),
        ("529.982.247-2", "11 digits"),
        ("111.111.111-11", "all its digits equal"),
        ("529.982.247-26", "check digit"),
        ("529.982.247-2x", "digits only"),
    ],
)
def test_a_wrong_cpf_is_explained_without_repeating_it(typed: str, said: str) -> None:
    with pytest.raises(InvalidCpf, match=said) as raised:
        parse_cpf(typed)
    assert "52998224" not in str(raised.value)


# -- by command ---------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database in which the story happened, under the instance's own secret and key
    (the CLI's), so commands find the citizens."""
    path = tmp_path / "civic.db"
    storage = Storage(f"sqlite:///{path}")
    storage.migrate()
    secret = instance.load_secret()
    instance.verify_secret(storage, secret)
    engine = Engine(storage, secret=secret, manager=load_plugins(), config=Config())
    accounts.add_agent(storage, "Rita", "rita-admin-senha", [], admin=True, now=engine.clock())
    citizen_story(engine)
    storage.close()
    return path


def civic(db: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--database-url", f"sqlite:///{db}"])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def everything_shown(db: Path, protocol: str, conversations: list[int]) -> str:
    """What every reading command prints about the service."""
    outputs = [
        civic(db, "conversations", "list", "--all", "--format", "json"),
        civic(db, "protocols", "show", protocol),
        civic(db, "report", "--format", "json"),
        civic(db, "report", "--format", "csv"),
        civic(db, "report", "--format", "html"),
        civic(db, "export", "conversations", "--format", "jsonl"),
    ]
    for conversation in conversations:
        outputs.append(civic(db, "conversations", "show", str(conversation), "--format", "json"))
        outputs.append(civic(db, "conversations", "show", str(conversation)))
    return "\n".join(outputs)


def report_figures(db: Path) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(civic(db, "report", "--format", "json"))
    figures.pop("generated_at")
    return figures


def test_show_confirms_what_is_held_with_the_cpf_masked(db: Path) -> None:
    shown = civic(db, "citizens", "show", " 529 982 247 25", "--by", "Rita")
    assert NAME in shown and "***.982.247-**" in shown
    assert CPF not in shown and CPF_DIGITS not in shown
    assert "Conversations: 2" in shown and "CAC-" in shown and "Ratings: 2" in shown
    summary = json.loads(civic(db, "citizens", "show", CPF, "--by", "Rita", "--json"))
    assert [c["messages"] > 0 for c in summary["conversations"]] == [True, True]
    assert summary["ratings"] == 2


def test_export_holds_everything_and_the_audit_of_who_saw_it(db: Path) -> None:
    exported = json.loads(
        civic(db, "citizens", "export", CPF, "--by", "Rita", "--reason", "pedido 12/2026")
    )
    assert exported["citizen"]["name"] == NAME and exported["citizen"]["cpf"] == "***.982.247-**"
    texts = [m["text"] for c in exported["conversations"] for m in c["messages"]]
    assert any("Poste apagado" in text for text in texts)
    assert any(text.startswith("Olá Maria") for text in texts)  # the attendant's reply
    (submission,) = exported["submissions"]
    assert submission["answers"]["bairro"] == "Centro"
    assert sorted(r["score"] for r in exported["ratings"]) == [8, 9]
    actions = [(a["actor"], a["action"]) for a in exported["audit"]]
    assert ("Rita", "reveal_cpf") in actions
    assert actions[-1] == ("Rita", "citizen_export")
    assert exported["audit"][-1]["reason"] == "pedido 12/2026"
    assert all(OTHER_NAME not in json.dumps(c) for c in exported["conversations"])


def test_export_to_a_file_is_owner_only(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "maria.json"
    civic(db, "citizens", "export", CPF, "--by", "Rita", "--reason", "pedido", "-o", str(target))
    assert json.loads(target.read_text(encoding="utf-8"))["citizen"]["name"] == NAME
    assert target.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["show", "529.982.247-26"], "wrong check digit"),
        (["show", "123"], "11 digits"),
        (["show", "390.533.447-05"], "no citizen with the CPF ***.533.447-**"),
        (["export", CPF, "--reason", "  "], "say why"),
        (["forget", CPF, "--reason", "pedido", "--yes", "--by", ""], "name"),
    ],
)
def test_refusals_are_one_line_without_the_cpf(db: Path, args: list[str], said: str) -> None:
    out = civic(db, "citizens", *args, code=1)
    assert said in out and "390533447" not in out and CPF_DIGITS not in out


def test_forget_leaves_nothing_of_the_citizen_and_the_report_unchanged(db: Path) -> None:
    shown = civic(db, "citizens", "export", CPF, "--by", "Rita", "--reason", "antes")
    protocol = json.loads(shown)["submissions"][0]["protocol"]
    conversations = [c["id"] for c in json.loads(shown)["conversations"]]
    before = report_figures(db)
    assert before["total"]["contacts"] == 2 and before["total"]["rated"] == 3
    done = civic(
        db, "citizens", "forget", "529 982 247 25", "--by", "Rita", "--reason", "pedido 12/2026",
        "--yes",
    )  # fmt: skip
    assert "anonymised: 2 conversation(s)" in done
    assert report_figures(db) == before  # counts, contacts, mean, NPS, distribution...
    outputs = everything_shown(db, protocol, conversations)
    database = b"".join(
        path.read_bytes() for path in db.parent.iterdir() if path.name.startswith("civic.db")
    )
    for secret in SECRETS:
        assert secret not in outputs, secret
        assert secret.encode("utf-8") not in database, secret
    assert "Poste apagado" not in outputs and b"Poste apagado" not in database
    assert "Rua das Flores" not in outputs
    # The protocol record is kept, anonymised; the other citizen is untouched.
    assert protocol in civic(db, "protocols", "show", protocol)
    assert OTHER_NAME in civic(db, "citizens", "show", OTHER_CPF, "--by", "Rita")
    # She is no longer known: a second forget or a show says so.
    assert "no citizen" in civic(db, "citizens", "show", CPF, "--by", "Rita", code=1)
    assert "no citizen" in civic(
        db, "citizens", "forget", CPF, "--by", "Rita", "--reason", "again", "--yes", code=1
    )


def test_forget_is_audited_with_who_and_why(db: Path) -> None:
    civic(db, "citizens", "forget", CPF, "--by", "Rita", "--reason", "pedido 12/2026", "--yes")
    storage = Storage(f"sqlite:///{db}")
    with storage.reading() as tx:
        audits = tx.audits()
    storage.close()
    last = audits[-1]
    assert (last["actor"], last["action"], last["reason"]) == (
        "Rita",
        "citizen_forget",
        "pedido 12/2026",
    )
    reveal = next(a for a in audits if a["action"] == "reveal_cpf")
    assert reveal["actor"] == "Rita" and NAME not in (reveal["reason"] or "")


def test_forget_waits_for_open_conversations(tmp_path: Path) -> None:
    path = tmp_path / "civic.db"
    storage = Storage(f"sqlite:///{path}")
    storage.migrate()
    secret = instance.load_secret()
    instance.verify_secret(storage, secret)
    engine = Engine(storage, secret=secret, manager=load_plugins(), config=Config())
    Chat(engine, PHONE).script("oi", f"{NAME} {CPF}", "quero falar com um atendente")
    storage.close()
    out = civic(path, "citizens", "forget", CPF, "--by", "Rita", "--reason", "x", "--yes", code=1)
    assert "still open" in out
    assert NAME in civic(path, "citizens", "show", CPF, "--by", "Rita")


# -- in the console -----------------------------------------------------------------

PASSWORDS = {"Rita": "rita-admin-senha", "Ana": "ana-senha-procon"}


@pytest.fixture
def host(storage: Storage) -> Host:
    host = Host(
        engine=Engine(storage, secret=b"test-secret", manager=load_plugins()), config=Config()
    )
    now = host.engine.clock()
    accounts.add_agent(storage, "Rita", PASSWORDS["Rita"], [], admin=True, now=now)
    accounts.add_agent(storage, "Ana", PASSWORDS["Ana"], ["procon"], now=now)
    return host


@pytest.fixture
def client(host: Host) -> Iterator[TestClient]:
    with TestClient(make_app(host), follow_redirects=False) as browser:
        yield browser


def sign_in(client: TestClient, name: str) -> str:
    """Sign in; the session's CSRF token."""
    login = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token
    response = client.post(
        "/console/login",
        data={"csrf": token.group(1), "name": name, "password": PASSWORDS[name]},
    )
    assert response.status_code == 303
    page = client.get("/console")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_only_admins_reach_the_page(host: Host, client: TestClient) -> None:
    csrf = sign_in(client, "Ana")
    assert "/console/citizens" not in client.get("/console").text
    assert client.get("/console/citizens").status_code == 403
    refused = client.post("/console/citizens", data={"csrf": csrf, "cpf": CPF})
    assert refused.status_code == 403 and NAME not in refused.text


def test_forms_need_the_sessions_csrf_token(host: Host, client: TestClient) -> None:
    citizen_story(host.engine)
    sign_in(client, "Rita")
    for path in ("/console/citizens", "/console/citizens/export", "/console/citizens/forget"):
        response = client.post(path, data={"csrf": "forged", "cpf": CPF, "reason": "x"})
        assert response.status_code == 403 and NAME not in response.text


def test_an_admin_looks_up_exports_and_forgets(host: Host, client: TestClient) -> None:
    story = citizen_story(host.engine)
    csrf = sign_in(client, "Rita")
    page = client.get("/console/citizens")
    assert page.status_code == 200 and 'name="cpf"' in page.text
    wrong = client.post("/console/citizens", data={"csrf": csrf, "cpf": "529.982.247-26"})
    assert wrong.status_code == 400 and "CPF inválido" in wrong.text
    found = client.post("/console/citizens", data={"csrf": csrf, "cpf": " 529 982 247 25 "})
    assert found.status_code == 200 and NAME in found.text and "***.982.247-**" in found.text
    export = client.post(
        "/console/citizens/export", data={"csrf": csrf, "cpf": CPF, "reason": "pedido 7"}
    )
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    assert export.json()["citizen"]["name"] == NAME
    unconfirmed = client.post(
        "/console/citizens/forget", data={"csrf": csrf, "cpf": CPF, "reason": "pedido 7"}
    )
    assert unconfirmed.status_code == 400
    done = client.post(
        "/console/citizens/forget",
        data={"csrf": csrf, "cpf": CPF, "reason": "pedido 7", "confirm": "yes"},
    )
    assert done.status_code == 200 and "anonimizado" in done.text
    pages = [done.text, client.get(f"/console/protocols/{story['protocol']}").text]
    pages += [client.get(f"/console/conversations/{c}").text for c in story["conversations"]]
    pages += [client.get("/console/protocols").text, client.get("/console/reports").text]
    for text in pages:
        for secret in SECRETS:
            assert secret not in text, secret
    again = client.post("/console/citizens", data={"csrf": csrf, "cpf": CPF})
    assert again.status_code == 400 and "Nenhum cidadão" in again.text
    with host.engine.storage.reading() as tx:
        actions = [(a["actor"], a["action"]) for a in tx.audits()]
    assert actions[-3:] == [
        ("Rita", "citizen_show"),
        ("Rita", "citizen_export"),
        ("Rita", "citizen_forget"),
    ]


def test_sealed_answers_are_exported_decrypted_and_forgotten(host: Host) -> None:
    """A form answer kept encrypted (a document number) is in the export in clear, for
    the citizen, and gone after forget."""
    from civic import rights

    engine = host.engine
    story = citizen_story(engine)
    handed = story["conversations"][-1]
    with engine.storage.transaction() as tx:
        citizen_id = tx.conversation(handed)["citizen_id"]
        tx.add_submission(
            conversation_id=handed,
            department="procon",
            form="reclamacao",
            protocol="PROCON-2026-000099",
            data={"fornecedor": "Loja X", "fornecedor_documento": "***.982.247-**"},
            secret_data=engine.vault.encrypt_json({"fornecedor_documento": CPF_DIGITS}),
            citizen_id=citizen_id,
            citizen_name=NAME,
            now=engine.clock(),
        )
    exported = rights.export(engine, CPF, by="Rita", reason="pedido 8")
    sealed = next(s for s in exported["submissions"] if s["protocol"] == "PROCON-2026-000099")
    assert sealed["answers"] == {"fornecedor": "Loja X", "fornecedor_documento": CPF_DIGITS}
    done = rights.forget(engine, CPF, by="Rita", reason="pedido 8")
    assert done.submissions == 2
    with engine.storage.reading() as tx:
        kept = tx.submission("PROCON-2026-000099")
    assert kept is not None and kept["secret_data"] is None and kept["data"] == "{}"
    assert kept["department"] == "procon" and kept["status"] == "received"


def test_forget_deletes_the_channels_raw_deliveries(host: Host) -> None:
    """The channel's raw bodies of the citizen's messages go too: those naming her as
    sender, and batched ones whose body holds her address; others' stay."""
    from civic import rights

    engine = host.engine
    citizen_story(engine)
    now = engine.clock()
    bodies = {
        "hers": (b'{"from": "' + PHONE.encode() + b'", "text": "oi"}', PHONE),
        "batched": (b'[{"from": "' + PHONE.encode() + b'"}, {"from": "x"}]', None),
        "his": (b'{"from": "' + OTHER_PHONE.encode() + b'"}', OTHER_PHONE),
        "waiting": (b'{"from": "' + PHONE.encode() + b'", "text": "de novo"}', PHONE),
    }
    ids = {}
    with engine.storage.transaction() as tx:
        for name, (body, sender) in bodies.items():
            ids[name], _held = tx.add_inbox("test", body, now, sender=sender)
            if name != "waiting":  # still to process: a new message, not forgotten
                tx.mark_inbox(ids[name], "processed", now)
    done = rights.forget(engine, CPF, by="Rita", reason="pedido 9")
    assert done.deliveries == 2
    with engine.storage.reading() as tx:
        left = {name for name, inbox_id in ids.items() if tx.inbox_item(inbox_id) is not None}
    assert left == {"his", "waiting"}


def test_no_old_copy_is_left_in_the_sqlite_file(tmp_path: Path) -> None:
    """Where SQLite keeps deleted bytes in free pages (``secure_delete`` off, the default
    of most builds), forget rewrites the file: the old values are not in it."""
    import sqlalchemy as sa

    path = tmp_path / "civic.db"
    storage = Storage(f"sqlite:///{path}")

    @sa.event.listens_for(storage.engine, "connect")
    def _keep_deleted_bytes(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=OFF")

    storage.migrate()
    engine = Engine(storage, secret=b"test-secret", manager=load_plugins(), config=Config())
    citizen_story(engine)
    from civic import rights

    assert rights.forget(engine, CPF, by="Rita", reason="pedido 10").compacted
    storage.close()
    database = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("civic"))
    for secret in SECRETS:
        assert secret.encode("utf-8") not in database, secret
