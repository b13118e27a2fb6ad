"""The console in a real headless Chromium, next to a citizen in the web chat.

Served exactly as the web chat's browser test serves it (uvicorn in a thread, the system
Chromium through Playwright, skipped with the reason when either is missing). The
attendant works with the keyboard: typing, Tab and Enter on focused controls.

The screenshots go to a temporary folder; with ``CIVIC_UPDATE_SCREENSHOTS=1`` they replace
the README's, in ``docs/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from civic import accounts, canned, staff
from civic.channels import Host
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.test_webchat import CAC_REQUEST, make_host
from tests.test_webchat_browser import (  # noqa: F401 (browser is a fixture)
    POLLED,
    browser,
    open_chat,
    say,
    screenshot,
    serving,
)

pytestmark = pytest.mark.browser

PASSWORDS = {"Ana": "ana-senha-procon", "Caio": "caio-senha-do-cac"}
GREETING = "Bom dia! Sou a Ana, do PROCON, e vou cuidar do seu caso."
DESKTOP = {"width": 1280, "height": 720}
TABLET = {"width": 820, "height": 1180}


def console_page(context: Any, errors: list[str]) -> Any:
    """A new tab whose console errors (a script refused by the CSP...) go to ``errors``."""
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def sign_in(page: Any, url: str, name: str) -> None:
    """Sign in with the keyboard: the name field has the focus as the page opens."""
    from playwright.sync_api import expect

    page.goto(f"{url}/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console$"))
    assert page.evaluate("document.activeElement.id") == "name"
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS[name])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Filas de atendimento")


def press(page: Any, control: Any) -> None:
    """Put the keyboard focus on ``control`` and press Enter, checking the focus shows."""
    control.focus()
    assert page.evaluate(
        "document.activeElement.matches(':focus-visible') &&"
        " getComputedStyle(document.activeElement).outlineStyle === 'solid'"
    ), "the keyboard focus is not visible"
    page.keyboard.press("Enter")


def whatsapp_citizen(host: Host, phone: str, *lines: str) -> int:
    """A citizen writing on WhatsApp (straight to the engine); their conversation's id."""
    from civic.values import Inbound

    for number, line in enumerate(lines):
        outcome = host.engine.handle(
            Inbound(
                channel="whatsapp",
                address=phone,
                text=line,
                channel_message_id=f"wamid.{phone}.{number}",
            )
        )
    assert outcome.conversation_id is not None
    return outcome.conversation_id


def cac_protocol(host: Host) -> str:
    chat = Chat(host.engine, "5535999990002")
    chat.script("oi", "João Pereira da Silva 111.444.777-35", "1")
    for answer, _ in CAC_REQUEST:
        chat.send(answer)
    found = re.search(r"CAC-\d{4}-\d{6}", chat.send("confirmar"))
    assert found
    return found.group(0)


@pytest.fixture
def served(sqlite_storage: Storage) -> Any:
    host = make_host(sqlite_storage)
    now = host.engine.clock()
    accounts.add_agent(sqlite_storage, "Ana", PASSWORDS["Ana"], ["procon"], now=now)
    accounts.add_agent(sqlite_storage, "Caio", PASSWORDS["Caio"], ["cac"], now=now)
    for title, text in [
        ("Saudação", GREETING),
        ("Pedir nota fiscal", "Pode me enviar uma foto da nota fiscal da compra?"),
    ]:
        canned.save_canned(host.engine, department="procon", title=title, text=text, agent="Ana")
    # Others in the queues: José waits, Bia (also of PROCON) talks with Antônia.
    whatsapp_citizen(
        host, "5535988880001", "oi", "José Carlos Ferreira 123.456.789-09", "2", "atendente"
    )
    colleague = whatsapp_citizen(
        host, "5535988880002", "oi", "Antônia Lima 935.411.347-80", "2", "atendente"
    )
    staff.take(host.engine, colleague, "Bia")
    with serving(host) as url:
        yield host, url


def test_an_attendant_answers_a_web_chat_citizen_from_the_console(
    browser: Any,  # noqa: F811 (the fixture imported above)
    served: tuple[Host, str],
    sqlite_storage: Storage,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    host, url = served
    protocol = cac_protocol(host)
    errors: list[str] = []

    # Ana, of PROCON, signs in: nobody is waiting yet.
    ana_context = browser.new_context(viewport=DESKTOP, locale="pt-BR")
    ana = console_page(ana_context, errors)
    sign_in(ana, url, "Ana")
    (cookie,) = [c for c in ana_context.cookies() if c["name"] == "civic_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    expect(ana.locator("#waiting tbody tr")).to_have_count(1)  # José
    expect(ana.locator("#in-progress")).to_contain_text("Bia")
    ana.evaluate("window.notReloaded = true")

    # A citizen in the web chat asks PROCON for a person.
    citizen_context = browser.new_context(viewport={"width": 390, "height": 800}, locale="pt-BR")
    citizen, citizen_errors, _ = open_chat(citizen_context, url)
    log = citizen.locator("#messages")
    say(citizen, "oi")
    expect(log).to_contain_text("nome completo")
    say(citizen, MARIA)
    expect(citizen.locator("button.choice:enabled")).to_have_count(3)
    say(citizen, "2")
    expect(log).to_contain_text("PROCON")
    say(citizen, "quero falar com um atendente")
    expect(citizen.locator(".message.bot").last).to_contain_text("equipe")

    # The conversation appears in Ana's queue by itself: no reload.
    waiting = ana.locator("#waiting a", has_text="Maria José dos Santos")
    expect(waiting).to_have_count(1, timeout=POLLED)
    assert ana.evaluate("window.notReloaded === true")
    expect(ana.locator("#live")).to_have_text("2 conversas aguardando atendente.")
    expect(ana.locator("#waiting tbody tr").last).to_contain_text("Chat do site")
    assert ana.title().startswith("(2) ")
    screenshot(ana, "console-queue.png", tmp_path)

    # She opens it, takes it, and answers with a canned response.
    press(ana, waiting)
    expect(ana.get_by_role("heading", level=1)).to_contain_text("Maria José dos Santos")
    expect(ana.locator("#cpf")).to_have_text("***.982.247-**")
    expect(ana.locator("#history")).to_contain_text("quero falar com um atendente")
    press(ana, ana.get_by_role("button", name="Assumir conversa"))
    expect(ana.locator(".notice")).to_contain_text("Conversa assumida")
    ana.locator("#canned").select_option(label="Saudação")
    press(ana, ana.get_by_role("button", name="Inserir"))
    expect(ana.locator("#text")).to_have_value(GREETING)
    assert ana.evaluate("document.activeElement.id") == "text"
    press(ana, ana.get_by_role("button", name="Enviar resposta"))
    expect(ana.locator(".notice")).to_contain_text("Resposta enviada")

    # The citizen sees it (the chat polls) and answers; Ana's page shows it by itself.
    agent = citizen.locator(".message.agent")
    expect(agent).to_have_count(1, timeout=POLLED)
    expect(agent).to_contain_text("Ana · atendente")
    expect(agent).to_contain_text(GREETING)
    ana.evaluate("window.notReloaded = true")
    say(citizen, "Obrigada! Comprei uma geladeira que veio com defeito.")
    expect(ana.locator("#history")).to_contain_text("geladeira", timeout=POLLED)
    assert ana.evaluate("window.notReloaded === true")
    screenshot(ana, "console-conversation.png", tmp_path)

    # On a tablet the page fits: no sideways scrolling, the reply box in reach.
    ana.set_viewport_size(TABLET)
    assert ana.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ana.set_viewport_size(DESKTOP)

    # She closes; the citizen is asked the survey and rates.
    press(ana, ana.get_by_role("button", name="Encerrar atendimento"))
    expect(ana.locator(".notice")).to_contain_text("pesquisa de satisfação")
    expect(log).to_contain_text("que nota você dá", timeout=POLLED)
    say(citizen, "9")
    expect(log).to_contain_text("comentário")
    say(citizen, "não")
    expect(log).to_contain_text("Atendimento encerrado")
    with sqlite_storage.reading() as tx:
        rating = next(r for r in tx.ratings() if r["department"] == "procon")
    assert rating["score"] == 9 and rating["agent"] == "Ana"
    (conversation,) = [
        e for e in staff.queue_entries(host.engine, include_closed=True) if e.channel == "webchat"
    ]

    # Caio, of CAC, does not see it, not even by its address; he sees his protocol.
    caio_context = browser.new_context(viewport=DESKTOP, locale="pt-BR")
    caio = console_page(caio_context, errors)
    sign_in(caio, url, "Caio")
    expect(caio.locator("main")).not_to_contain_text("Maria")
    response = caio.goto(f"{url}/console/conversations/{conversation.id}")
    assert response.status == 404
    expect(caio.get_by_role("heading", level=1)).to_have_text("Não encontrado")
    expect(caio.locator("main")).not_to_contain_text("Maria")
    errors.remove(next(e for e in errors if "404" in e))  # the browser logs the 404 itself
    caio.goto(f"{url}/console/protocols")
    press(caio, caio.get_by_role("link", name=protocol))
    expect(caio.get_by_role("heading", level=1)).to_contain_text(protocol)
    caio.locator("#status").select_option("in_progress")
    caio.locator("#note").fill("Equipe de iluminação agendada para amanhã de manhã.")
    caio.locator("#internal_note").fill("Ordem de serviço 4411")
    press(caio, caio.get_by_role("button", name="Alterar situação"))
    expect(caio.locator(".notice")).to_contain_text("Situação alterada")
    expect(caio.locator("#status option")).to_have_count(1)  # only "answered" is next
    screenshot(caio, "console-protocol.png", tmp_path)

    # The reports show Ana's first-response time and her score.
    ana.goto(f"{url}/console/reports")
    row = ana.locator("#groups tbody tr", has=ana.locator("th", has_text="Ana"))
    expect(row).to_have_count(1)
    header = [t.strip() for t in ana.locator("#groups thead th").all_inner_texts()]
    cells = [t.strip() for t in row.locator("td").all_inner_texts()]
    figures = dict(zip(header[1:], cells, strict=True))
    assert re.fullmatch(r"\d+ s|\d+ min( \d+ s)?", figures["Mediana da primeira resposta"])
    assert figures["Nota média"] == "9,00"

    assert errors == [] and citizen_errors == []
    for context in (ana_context, citizen_context, caio_context):
        context.close()
