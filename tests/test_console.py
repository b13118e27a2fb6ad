"""The attendants' console over HTTP: sessions, CSRF, departments, and the staff actions
reaching the citizen's outbox."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest

from civic import accounts, staff
from civic.channels import Host
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.test_webchat import CAC_REQUEST, make_app, make_host

with warnings.catch_warnings():  # Starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

PASSWORDS = {"Ana": "ana-senha-procon", "Caio": "caio-senha-do-cac", "Rita": "rita-admin-senha"}
PROCON_CITIZEN = "5535999990001"
CAC_CITIZEN = "5535999990002"


@pytest.fixture
def host(storage: Storage) -> Host:
    """A service with three accounts: Ana (PROCON), Caio (CAC) and Rita (admin)."""
    host = make_host(storage)
    now = host.engine.clock()
    accounts.add_agent(storage, "Ana", PASSWORDS["Ana"], ["procon"], now=now)
    accounts.add_agent(storage, "Caio", PASSWORDS["Caio"], ["cac"], now=now)
    accounts.add_agent(storage, "Rita", PASSWORDS["Rita"], [], admin=True, now=now)
    return host


@pytest.fixture
def client(host: Host) -> Iterator[TestClient]:
    with TestClient(make_app(host), follow_redirects=False) as browser:
        yield browser


def waiting_in_procon(host: Host) -> int:
    """A citizen who asked PROCON for a person; the conversation's id."""
    chat = Chat(host.engine, PROCON_CITIZEN)
    chat.script("oi", MARIA, "2", "quero falar com um atendente")
    assert chat.state == "waiting_human"
    (entry,) = staff.queue_entries(host.engine, department="procon")
    return entry.id


def cac_protocol(host: Host) -> str:
    """A citizen who filed a CAC request; its protocol number."""
    chat = Chat(host.engine, CAC_CITIZEN)
    chat.script("oi", MARIA, "1")
    for answer, _ in CAC_REQUEST:
        chat.send(answer)
    found = re.search(r"CAC-\d{4}-\d{6}", chat.send("confirmar"))
    assert found
    return found.group(0)


def login_form(client: TestClient) -> str:
    """Open the sign-in page; the form's CSRF token."""
    page = client.get("/console/login")
    assert page.status_code == 200
    return csrf_of(page.text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str | None = None) -> str:
    """Sign in as ``name``; the session's CSRF token (from the queue page's forms)."""
    response = client.post(
        "/console/login",
        data={"csrf": login_form(client), "name": name, "password": password or PASSWORDS[name]},
    )
    assert response.status_code == 303, response.text
    page = client.get("/console")
    assert page.status_code == 200
    return csrf_of(page.text)


def pending_texts(host: Host, address: str) -> list[tuple[str, str | None, str]]:
    """What waits in the outbox for ``address``: (author, agent, text)."""
    return [(d.author, d.agent, d.reply.text) for d in host.engine.pending("test", address)]


def state_of(host: Host, conversation_id: int) -> str:
    conversation = host.engine.conversation(conversation_id)
    assert conversation is not None
    return conversation.state


# -- no session, no console -----------------------------------------------------------

PAGES = [
    "/console",
    "/console/conversations/1",
    "/console/protocols",
    "/console/protocols/CAC-2026-000001",
    "/console/canned",
    "/console/reports?por=department",
]
FRAGMENTS = ["/console/queues", "/console/conversations/1/history"]
ACTIONS = [
    "/console/logout",
    "/console/conversations/1/take",
    "/console/conversations/1/reply",
    "/console/conversations/1/transfer",
    "/console/conversations/1/release",
    "/console/conversations/1/close",
    "/console/conversations/1/reveal-cpf",
    "/console/protocols/CAC-2026-000001/status",
    "/console/protocols/CAC-2026-000001/reveal",
    "/console/canned",
    "/console/canned/1/delete",
]


def test_no_page_fragment_or_action_without_a_session(host: Host, client: TestClient) -> None:
    conversation_id = waiting_in_procon(host)
    assert conversation_id == 1
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=/console")
    for path in FRAGMENTS:
        assert client.get(path).status_code == 401, path
    for path in ACTIONS:
        response = client.post(path, data={"csrf": "anything", "text": "oi", "department": "cac"})
        assert response.status_code == 401, path
        assert "Entre novamente" in response.text
    # A cookie that is not a session is no session either.
    client.cookies.set("civic_console", "forged-token", path="/console")
    assert client.get("/console").status_code == 303
    assert client.post(ACTIONS[1], data={"csrf": "x"}).status_code == 401
    assert state_of(host, conversation_id) == "waiting_human"
    assert pending_texts(host, PROCON_CITIZEN) == []


def test_the_sign_in_page_comes_back_where_the_attendant_was(client: TestClient) -> None:
    target = client.get("/console/reports?por=department").headers["location"]
    assert target == "/console/login?next=/console/reports%3Fpor%3Ddepartment"
    page = client.get(target)
    assert 'name="next" value="/console/reports?por=department"' in page.text
    response = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(page.text),
            "name": "Ana",
            "password": PASSWORDS["Ana"],
            "next": "/console/reports?por=department",
        },
    )
    assert response.headers["location"] == "/console/reports?por=department"


@pytest.mark.parametrize("target", ["//evil.example/console", "https://evil.example", "/chat"])
def test_signing_in_never_sends_the_browser_elsewhere(client: TestClient, target: str) -> None:
    response = client.post(
        "/console/login",
        data={
            "csrf": login_form(client),
            "name": "Ana",
            "password": PASSWORDS["Ana"],
            "next": target,
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/console"


# -- signing in -----------------------------------------------------------------------


def test_the_session_cookie_and_the_security_headers(client: TestClient) -> None:
    page = client.get("/console/login")
    assert 'lang="pt-BR"' in page.text and '<label for="password">Senha</label>' in page.text
    response = client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "name": "Ana", "password": PASSWORDS["Ana"]},
    )
    cookie = next(c for c in response.headers.get_list("set-cookie") if "civic_console=" in c)
    token = client.cookies["civic_console"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) == int(
        accounts.MAX_SESSION.total_seconds()
    )
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    for path in ("/console", "/console/login", "/console/queues", "/console/nothing-here"):
        response = client.get(path)
        if response.status_code == 404:
            continue  # Starlette's own 404 for a path the console does not have
        headers = response.headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
    page = client.get("/console").text
    assert "<script>" not in page and "<style>" not in page and " style=" not in page
    assert 'src="/console/static/console.js"' in page
    assert client.get("/console/static/console.js").status_code == 200
    assert client.get("/console/static/../web.py").status_code == 404


@pytest.mark.parametrize(
    ("base_url", "headers"),
    [("https://testserver", {}), ("http://testserver", {"X-Forwarded-Proto": "https"})],
)
def test_the_session_cookie_is_secure_over_https(
    host: Host, base_url: str, headers: dict[str, str]
) -> None:
    with TestClient(make_app(host), base_url=base_url, follow_redirects=False) as browser:
        page = browser.get("/console/login", headers=headers)
        assert "; Secure" in page.headers["set-cookie"]  # the sign-in form's cookie too
        # Behind the proxy the browser talks https, so it sends the Secure cookie back.
        form_cookie = page.headers["set-cookie"].split(";")[0]
        response = browser.post(
            "/console/login",
            data={"csrf": csrf_of(page.text), "name": "Ana", "password": PASSWORDS["Ana"]},
            headers={**headers, "Cookie": form_cookie},
        )
    cookie = next(c for c in response.headers.get_list("set-cookie") if "civic_console=" in c)
    assert "; Secure" in cookie


@pytest.mark.parametrize(
    ("name", "password"),
    [("Ana", "senha-errada-123"), ("Ninguém", "qualquer-senha-1"), ("Ana", "")],
)
def test_a_wrong_sign_in_says_so_and_starts_no_session(
    client: TestClient, name: str, password: str
) -> None:
    response = client.post(
        "/console/login", data={"csrf": login_form(client), "name": name, "password": password}
    )
    assert response.status_code == 401
    assert accounts.SIGN_IN_FAILED in response.text
    assert f'value="{name}"' in response.text  # the name stays typed, the password does not
    assert "civic_console" not in client.cookies or not client.cookies.get("civic_console")
    assert client.get("/console").status_code == 303


def test_signing_in_needs_the_form_s_own_token(client: TestClient) -> None:
    login_form(client)  # the browser has the form's cookie, but posts another token
    response = client.post(
        "/console/login", data={"csrf": "forged", "name": "Ana", "password": PASSWORDS["Ana"]}
    )
    assert response.status_code == 403 and "formulário expirou" in response.text
    client.cookies.clear()
    response = client.post(
        "/console/login", data={"csrf": "forged", "name": "Ana", "password": PASSWORDS["Ana"]}
    )
    assert response.status_code == 403
    assert client.get("/console").status_code == 303


def test_a_disabled_account_cannot_sign_in_and_its_session_ends(
    host: Host, storage: Storage, client: TestClient
) -> None:
    sign_in(client, "Ana")
    accounts.disable_agent(storage, "Ana", host.engine.clock())
    assert client.get("/console").status_code == 303  # the open session ended with it
    response = client.post(
        "/console/login",
        data={"csrf": login_form(client), "name": "Ana", "password": PASSWORDS["Ana"]},
    )
    assert response.status_code == 401 and accounts.SIGN_IN_FAILED in response.text
    assert client.get("/console").status_code == 303


def test_brute_force_is_throttled(client: TestClient) -> None:
    for attempt in range(accounts.MAX_FAILURES - 1):
        response = client.post(
            "/console/login",
            data={"csrf": login_form(client), "name": "Ana", "password": f"chute-{attempt:04d}"},
        )
        assert response.status_code == 401
    response = client.post(
        "/console/login",
        data={"csrf": login_form(client), "name": "Ana", "password": "mais-um-chute"},
    )
    assert response.status_code == 429 and "Muitas tentativas" in response.text
    # Locked: even the right password is refused for now, with the same message.
    response = client.post(
        "/console/login",
        data={"csrf": login_form(client), "name": "Ana", "password": PASSWORDS["Ana"]},
    )
    assert response.status_code == 429 and "tente de novo em 15 minutos" in response.text
    assert client.get("/console").status_code == 303


def test_signing_out_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client, "Ana")
    token = client.cookies["civic_console"]
    assert client.post("/console/logout", data={"csrf": "wrong"}).status_code == 403
    response = client.post("/console/logout", data={"csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert client.get("/console").status_code == 303
    client.cookies.set("civic_console", token, path="/console")  # an old cookie kept
    assert client.get("/console").status_code == 303


# -- CSRF -----------------------------------------------------------------------------


def test_an_action_without_the_session_s_csrf_token_is_refused(
    host: Host, client: TestClient
) -> None:
    conversation_id = waiting_in_procon(host)
    csrf = sign_in(client, "Ana")
    take = f"/console/conversations/{conversation_id}/take"
    assert client.post(take, data={}).status_code == 403
    assert client.post(take, data={"csrf": "x" + csrf}).status_code == 403
    with TestClient(make_app(host), follow_redirects=False) as other:
        other_csrf = sign_in(other, "Rita")
    assert client.post(take, data={"csrf": other_csrf}).status_code == 403  # another session's
    cross_site = {"Origin": "https://evil.example"}
    assert client.post(take, data={"csrf": csrf}, headers=cross_site).status_code == 403
    fetched = {"Sec-Fetch-Site": "cross-site"}
    assert client.post(take, data={"csrf": csrf}, headers=fetched).status_code == 403
    as_json = client.post(take, json={"csrf": csrf})
    assert as_json.status_code == 415
    assert state_of(host, conversation_id) == "waiting_human"
    response = client.post(take, data={"csrf": csrf}, headers={"Origin": "http://testserver"})
    assert response.status_code == 303
    assert state_of(host, conversation_id) == "with_agent"


# -- departments ----------------------------------------------------------------------


def test_another_department_s_conversation_is_not_found(host: Host, client: TestClient) -> None:
    conversation_id = waiting_in_procon(host)
    csrf = sign_in(client, "Caio")  # CAC
    assert "Maria" not in client.get("/console").text
    assert "Maria" not in client.get("/console/queues").text
    missing = client.get("/console/conversations/999")
    guessed = client.get(f"/console/conversations/{conversation_id}")
    assert guessed.status_code == missing.status_code == 404
    assert "Maria" not in guessed.text and guessed.text == missing.text
    assert client.get(f"/console/conversations/{conversation_id}/history").status_code == 404
    assert client.get("/console/conversations/99999999999999999999999").status_code == 404
    for action in ("take", "reply", "transfer", "release", "close", "reveal-cpf"):
        response = client.post(
            f"/console/conversations/{conversation_id}/{action}",
            data={"csrf": csrf, "text": "oi", "department": "cac", "reason": "teste"},
        )
        assert response.status_code == 404, action
    assert state_of(host, conversation_id) == "waiting_human"
    assert pending_texts(host, PROCON_CITIZEN) == []


def test_another_department_s_protocol_is_not_found(host: Host, client: TestClient) -> None:
    protocol = cac_protocol(host)
    csrf = sign_in(client, "Ana")  # PROCON
    link = f'href="/console/protocols/{protocol}"'
    assert link not in client.get("/console/protocols").text
    assert link not in client.get(f"/console/protocols?texto={protocol}").text
    assert link not in client.get("/console/protocols?departamento=cac").text
    guessed = client.get(f"/console/protocols/{protocol}")
    missing = client.get("/console/protocols/CAC-1999-000001")
    assert guessed.status_code == missing.status_code == 404
    assert guessed.text == missing.text
    for action, data in [
        ("status", {"status": "in_progress", "note": "oi"}),
        ("reveal", {"reason": "curiosidade"}),
    ]:
        response = client.post(
            f"/console/protocols/{protocol}/{action}", data={"csrf": csrf, **data}
        )
        assert response.status_code == 404, action
    with host.engine.storage.reading() as tx:
        assert tx.submission(protocol)["status"] == "received"
        assert tx.audits() == []
    # The department's own attendant finds it, by its number too.
    with TestClient(make_app(host), follow_redirects=False) as cac:
        sign_in(cac, "Caio")
        assert link in cac.get(f"/console/protocols?texto={protocol.lower()}").text
        page = cac.get(f"/console/protocols/{protocol}")
        assert page.status_code == 200 and "Maria José dos Santos" in page.text


def test_an_admin_sees_every_department(host: Host, client: TestClient) -> None:
    conversation_id = waiting_in_procon(host)
    protocol = cac_protocol(host)
    sign_in(client, "Rita")
    assert f"/console/conversations/{conversation_id}" in client.get("/console/queues").text
    assert client.get(f"/console/conversations/{conversation_id}").status_code == 200
    assert protocol in client.get("/console/protocols").text


# -- the queue and a conversation -----------------------------------------------------


def test_the_queue_shows_who_waits_and_for_how_long(host: Host, client: TestClient) -> None:
    import datetime as dt

    conversation_id = waiting_in_procon(host)
    sign_in(client, "Ana")
    later = host.engine.clock() + dt.timedelta(minutes=7)
    host.engine.clock = lambda: later
    fragment = client.get("/console/queues")
    assert fragment.status_code == 200 and fragment.headers["x-queue-waiting"] == "1"
    waiting = re.search(r'id="waiting".*?</section>', fragment.text, re.S).group(0)
    assert f'href="/console/conversations/{conversation_id}"' in waiting
    assert "Maria José dos Santos" in waiting and "há 7 min" in waiting
    page = client.get("/console").text
    assert 'data-poll="/console/queues"' in page and 'aria-live="polite"' in page
    staff.take(host.engine, conversation_id, "Ana")
    mine = re.search(r'id="mine".*?</section>', client.get("/console/queues").text, re.S)
    assert f"/console/conversations/{conversation_id}" in mine.group(0)


def test_the_conversation_page_shows_the_whole_history(host: Host, client: TestClient) -> None:
    from civic.values import Inbound, Media

    conversation_id = waiting_in_procon(host)
    host.engine.handle(
        Inbound(
            channel="test",
            address=PROCON_CITIZEN,
            text="a nota fiscal",
            channel_message_id="media-1",
            media=Media(kind="image", id="987654"),
        )
    )
    sign_in(client, "Ana")
    page = client.get(f"/console/conversations/{conversation_id}").text
    for shown in (
        "Maria José dos Santos",
        "***.982.247-**",
        "Mostrar CPF",
        "PROCON",
        "Aguardando atendente",
        "quero falar com um atendente",
        "Robô",
        "Imagem",
        "987654",
        "Assumir conversa",
    ):
        assert shown in page, shown
    assert "529.982.247-25" not in page and "52998224725" not in page
    assert 'data-poll="/console/conversations/1/history"' in page
    history = client.get(f"/console/conversations/{conversation_id}/history")
    assert history.status_code == 200 and "a nota fiscal" in history.text


def test_take_reply_transfer_and_close_reach_the_outbox(host: Host, client: TestClient) -> None:
    conversation_id = waiting_in_procon(host)
    url = f"/console/conversations/{conversation_id}"
    csrf = sign_in(client, "Ana")

    response = client.post(f"{url}/take", data={"csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == f"{url}?feito=assumida"
    assert state_of(host, conversation_id) == "with_agent"
    page = client.get(response.headers["location"]).text
    assert "Conversa assumida" in page and "Enviar resposta" in page and "Devolver à fila" in page

    response = client.post(f"{url}/reply", data={"csrf": csrf, "text": "Bom dia, Maria!\r\nOk?"})
    assert response.status_code == 303
    assert pending_texts(host, PROCON_CITIZEN) == [("agent", "Ana", "Bom dia, Maria!\nOk?")]

    empty = client.post(f"{url}/reply", data={"csrf": csrf, "text": "   "})
    assert empty.status_code == 409
    assert "Não foi possível: Escreva a resposta antes de enviar." in empty.text

    response = client.post(
        f"{url}/transfer", data={"csrf": csrf, "department": "cac", "note": "É do CAC"}
    )
    assert (
        response.status_code == 303 and response.headers["location"] == "/console?feito=transferida"
    )
    assert state_of(host, conversation_id) == "waiting_human"
    assert client.get(url).status_code == 404  # no longer PROCON's
    author, _, text = pending_texts(host, PROCON_CITIZEN)[-1]
    assert author == "system" and "CAC" in text

    with TestClient(make_app(host), follow_redirects=False) as cac:
        cac_csrf = sign_in(cac, "Caio")
        page = cac.get(url).text
        assert "É do CAC" in page and "Ana" in page
        assert cac.post(f"{url}/take", data={"csrf": cac_csrf}).status_code == 303
        assert cac.post(f"{url}/release", data={"csrf": cac_csrf}).status_code == 303
        assert state_of(host, conversation_id) == "waiting_human"
        assert cac.post(f"{url}/take", data={"csrf": cac_csrf}).status_code == 303
        response = cac.post(f"{url}/close", data={"csrf": cac_csrf})
        assert response.status_code == 303 and "feito=encerrada" in response.headers["location"]
        assert "pesquisa de satisfação" in cac.get(response.headers["location"]).text
    assert state_of(host, conversation_id) == "rating"
    assert "que nota você dá" in pending_texts(host, PROCON_CITIZEN)[-1][2]


def test_an_attendant_cannot_act_on_a_colleague_s_conversation(
    host: Host, client: TestClient
) -> None:
    conversation_id = waiting_in_procon(host)
    accounts.add_agent(
        host.engine.storage, "Bia", "bia-senha-procon", ["procon"], now=host.engine.clock()
    )
    staff.take(host.engine, conversation_id, "Bia")
    csrf = sign_in(client, "Ana")
    url = f"/console/conversations/{conversation_id}"
    assert "Esta conversa está com" in client.get(url).text
    response = client.post(f"{url}/reply", data={"csrf": csrf, "text": "Eu assumo"})
    assert response.status_code == 409
    assert "A conversa está com Bia; peça que a devolva ou transfira." in response.text
    assert pending_texts(host, PROCON_CITIZEN) == []


def test_revealing_the_cpf_needs_a_reason_and_is_audited(host: Host, client: TestClient) -> None:
    conversation_id = waiting_in_procon(host)
    url = f"/console/conversations/{conversation_id}"
    csrf = sign_in(client, "Ana")
    no_reason = client.post(f"{url}/reveal-cpf", data={"csrf": csrf, "reason": " "})
    assert no_reason.status_code == 400 and "529.982.247-25" not in no_reason.text
    not_taken = client.post(f"{url}/reveal-cpf", data={"csrf": csrf, "reason": "notificar"})
    assert not_taken.status_code == 409 and "529.982.247-25" not in not_taken.text
    assert "Assuma a conversa antes de ver o CPF." in not_taken.text
    client.post(f"{url}/take", data={"csrf": csrf})
    shown = client.post(f"{url}/reveal-cpf", data={"csrf": csrf, "reason": "notificar fornecedor"})
    assert shown.status_code == 200 and "529.982.247-25" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    with host.engine.storage.reading() as tx:
        (audit,) = tx.audits()
    assert (audit["actor"], audit["action"], audit["reason"]) == (
        "Ana",
        "reveal_cpf",
        "notificar fornecedor",
    )
    assert "529.982.247-25" not in client.get(url).text  # shown once, not kept on the page


# -- protocols ------------------------------------------------------------------------


def test_a_protocol_status_change_reaches_the_citizen(host: Host, client: TestClient) -> None:
    protocol = cac_protocol(host)
    for delivery in host.engine.pending("test", CAC_CITIZEN):
        host.engine.mark([delivery.id], "sent")
    csrf = sign_in(client, "Caio")
    url = f"/console/protocols/{protocol}"
    page = client.get(url).text
    offered = re.findall(r'<option value="([a-z_]+)"', page.split('id="status"')[1])
    assert offered == ["in_progress", "answered"]  # only what received may move to
    answers = re.search(r'<dl class="answers">(.*?)</dl>', page, re.S).group(1)
    assert "<dt>Assunto</dt><dd>Iluminação pública</dd>" in answers
    assert "<dt>Bairro</dt><dd>Centro</dd>" in answers
    assert "(35) 3435-2052" in answers

    refused = client.post(f"{url}/status", data={"csrf": csrf, "status": "closed"})
    assert refused.status_code == 400
    response = client.post(
        f"{url}/status",
        data={
            "csrf": csrf,
            "status": "in_progress",
            "note": "Equipe enviada ao local amanhã.",
            "internal_note": "Ordem de serviço 4411",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == f"{url}?feito=1"
    ((author, agent, text),) = pending_texts(host, CAC_CITIZEN)
    assert (author, agent) == ("agent", "Caio")
    assert protocol in text and "Equipe enviada ao local amanhã." in text
    assert "4411" not in text
    page = client.get(response.headers["location"]).text
    assert "Situação alterada" in page and "Ordem de serviço 4411" in page
    offered = re.findall(r'<option value="([a-z_]+)"', page.split('id="status"')[1])
    assert offered == ["answered"]
    listing = client.get("/console/protocols?situacao=in_progress").text
    assert protocol in listing
    assert protocol not in client.get("/console/protocols?situacao=received").text
    # The reports count it by its status now.
    report = client.get("/console/reports?por=department").text
    counted = re.search(r'id="protocols-title".*?</table>', report, re.S).group(0)
    assert '<th scope="row">Em análise</th><td>1</td>' in counted
    assert '<th scope="row">Recebido</th><td>0</td>' in counted


def test_the_full_submission_is_shown_on_request_and_audited(
    host: Host, client: TestClient
) -> None:
    protocol = cac_protocol(host)
    csrf = sign_in(client, "Caio")
    url = f"/console/protocols/{protocol}"
    assert "529.982.247-25" not in client.get(url).text
    response = client.post(f"{url}/reveal", data={"csrf": csrf, "reason": "retorno por carta"})
    assert response.status_code == 200 and "529.982.247-25" in response.text
    with host.engine.storage.reading() as tx:
        (audit,) = tx.audits()
    assert audit["action"] == "reveal_submission" and audit["actor"] == "Caio"


# -- canned responses -----------------------------------------------------------------


def test_admins_edit_canned_responses_and_attendants_use_them(
    host: Host, client: TestClient
) -> None:
    conversation_id = waiting_in_procon(host)
    csrf = sign_in(client, "Rita")
    response = client.post(
        "/console/canned",
        data={
            "csrf": csrf,
            "department": "procon",
            "title": "Saudação",
            "text": "Olá! Sou do PROCON.",
        },
    )
    assert response.status_code == 303
    assert "Olá! Sou do PROCON." in client.get("/console/canned").text
    blank = client.post(
        "/console/canned", data={"csrf": csrf, "department": "procon", "title": "", "text": "x"}
    )
    assert blank.status_code == 400
    assert "Não foi possível salvar: Dê um título à resposta pronta." in blank.text

    with TestClient(make_app(host), follow_redirects=False) as ana:
        ana_csrf = sign_in(ana, "Ana")
        page = ana.get(f"/console/conversations/{conversation_id}").text
        assert 'data-canned-for="text"' in page and "Olá! Sou do PROCON." in page
        assert "Olá! Sou do PROCON." in ana.get("/console/canned").text
        refused = ana.post(
            "/console/canned",
            data={"csrf": ana_csrf, "department": "procon", "title": "Eu", "text": "Eu"},
        )
        assert refused.status_code == 403
        assert ana.post("/console/canned/1/delete", data={"csrf": ana_csrf}).status_code == 403
    with TestClient(make_app(host), follow_redirects=False) as caio:
        sign_in(caio, "Caio")
        assert "Olá! Sou do PROCON." not in caio.get("/console/canned").text

    assert client.post("/console/canned/1/delete", data={"csrf": csrf}).status_code == 303
    assert "Olá! Sou do PROCON." not in client.get("/console/canned").text
    assert client.post("/console/canned/1/delete", data={"csrf": csrf}).status_code == 404


# -- reports --------------------------------------------------------------------------


def test_the_reports_page_shows_each_attendant_s_figures(host: Host, client: TestClient) -> None:
    import datetime as dt

    start = host.engine.clock()
    host.engine.clock = lambda: start  # frozen: a slow machine adds no seconds
    conversation_id = waiting_in_procon(host)
    csrf = sign_in(client, "Ana")
    host.engine.clock = lambda: start + dt.timedelta(minutes=3)
    url = f"/console/conversations/{conversation_id}"
    client.post(f"{url}/reply", data={"csrf": csrf, "text": "Bom dia!"})
    client.post(f"{url}/close", data={"csrf": csrf})
    Chat(host.engine, PROCON_CITIZEN).script("9", "A Ana foi ótima. Meu CPF 529.982.247-25")
    host.engine.clock = lambda: start
    page = client.get("/console/reports?por=agent")
    # The citizens' comments, masked.
    assert "A Ana foi ótima" in page.text and "529.982.247-25" not in page.text
    assert page.status_code == 200
    row = re.search(r"<tr>\s*<th scope=\"row\">Ana</th>(.*?)</tr>", page.text, re.S)
    assert row, page.text
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert "3 min" in cells  # first response, from the hand-over
    assert "9,00" in cells  # the mean score
    assert "Mediana da primeira resposta" in page.text and "Prazo cumprido (%)" in page.text
    # An attendant's report covers their own department only.
    other = client.get("/console/reports?departamento=cac")
    assert "Departamento desconhecido" in other.text


@pytest.mark.parametrize(
    "query",
    [
        "/console/reports?ate=9999-12-31",
        "/console/reports?de=0001-01-01",
        "/console/reports?de=31/12/9999&ate=31/12/9999",
        "/console/protocols?de=0001-01-01&ate=9999-12-31",
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_refused_politely(
    client: TestClient, query: str
) -> None:
    sign_in(client, "Rita")
    page = client.get(query)
    assert page.status_code == 200
    assert "data" in page.text.lower()  # the page says which date it could not use
