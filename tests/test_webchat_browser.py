"""The web chat in a real headless Chromium, driven with the keyboard only.

The app of ``civic serve`` runs under uvicorn on 127.0.0.1 in a background thread; the
page is driven through Playwright with the system's Chromium (no browser is downloaded).
Skipped, with the reason, when Chromium or Playwright is missing.

The screenshots go to a temporary folder; with ``CIVIC_UPDATE_SCREENSHOTS=1`` they replace
the README's, in ``docs/screenshots/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import civic_cac
from civic import staff
from civic.channels import Host
from civic.storage import Storage
from tests.chat import MARIA
from tests.test_webchat import CPF_DIGITS, make_app, make_host

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POLLED = 10_000  # ms: long enough for a poll (every 3 s) to bring a message


def find_chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"chromium not installed: none of {', '.join(BROWSERS)} is on PATH")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = find_chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def serving(host: Host) -> Iterator[str]:
    """The web chat served by uvicorn on a free port of 127.0.0.1; yields its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        make_app(host), host="127.0.0.1", port=port, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def served(sqlite_storage: Storage) -> Iterator[tuple[Host, str]]:
    host = make_host(sqlite_storage)
    with serving(host) as url:
        yield host, url


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    page.screenshot(path=str(target))
    if os.environ.get("CIVIC_UPDATE_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, folder / name)
    return target


def open_chat(context: Any, url: str) -> tuple[Any, list[str], dict[str, Any]]:
    """A new tab on the chat: the page, a list that collects its console errors, and the
    answer to the request the page makes as it opens (what waited in the outbox)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with page.expect_response(
        lambda r: r.url.endswith("/chat/messages") and r.request.method == "GET"
    ) as first:
        page.goto(f"{url}/chat")
    return page, errors, first.value.json()


def focused(page: Any) -> str:
    """What has the keyboard focus: ``#id`` or the button's text."""
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e.id ? '#' + e.id : (e.textContent || e.tagName).trim(); })()"
    )


def say(page: Any, text: str) -> None:
    """Type a message in the input and press Enter, as a citizen with a keyboard."""
    assert focused(page) == "#text"
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def back_to_choice(page: Any, number: str) -> None:
    """Shift+Tab from the input up to the choice button ``number`` of the last message."""
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if focused(page).startswith(f"{number}. "):
            break
    else:
        pytest.fail(f"no choice {number} reachable with Shift+Tab")
    assert page.evaluate(
        "document.activeElement.matches(':focus-visible') &&"
        " getComputedStyle(document.activeElement).outlineStyle === 'solid'"
    ), "the keyboard focus is not visible"


def stored_in_browser(page: Any) -> list[str]:
    """Every string the page keeps in the browser's storage."""
    return page.evaluate(
        "[...Object.values(sessionStorage), ...Object.values(localStorage)]"
        ".flatMap(v => { try { return JSON.parse(v).map(m => m.text || '') } "
        "catch (e) { return [v] } })"
    )


def test_a_citizen_files_a_request_with_the_keyboard(
    browser: Any, served: tuple[Host, str], sqlite_storage: Storage, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _, url = served
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="pt-BR")
    page, errors, waiting = open_chat(context, url)
    assert waiting == {"messages": [], "state": None}
    log = page.locator("#messages")
    expect(page.locator("#hint")).to_contain_text("oi")
    assert focused(page) == "#text"
    page.keyboard.press("Tab")
    assert focused(page) == "Enviar"
    page.keyboard.press("Shift+Tab")

    (cookie,) = [c for c in context.cookies() if c["name"] == "civic_chat"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # out of the scripts' reach

    say(page, "oi")
    expect(log).to_contain_text("nome completo seguido do seu CPF")
    expect(page.locator("#hint")).to_be_hidden()
    say(page, MARIA)
    expect(page.locator("button.choice:enabled")).to_have_count(3)
    assert "529.982.247-25" in log.inner_text()  # the citizen sees what they typed
    back_to_choice(page, "1")
    assert focused(page).startswith("1. CAC")
    page.keyboard.press("Enter")
    expect(log).to_contain_text("Você está no CAC")
    expect(page.locator("button.choice:enabled")).to_have_count(
        len(civic_cac.DEPARTMENT.topics)
    )  # the old menu is off
    assert focused(page) == "#text"
    say(page, "1")
    expect(log).to_contain_text("Sobre o que é a sua solicitação?")
    for answer, question in [
        ("iluminação pública", "Descreva a sua solicitação"),
        ("Poste apagado na Rua das Flores, em frente ao número 120.", "Em qual bairro"),
        ("Centro", "Como prefere receber a resposta"),
        ("2", "Qual telefone"),
        ("(35) 3435-2052", "Confira suas respostas"),
    ]:
        say(page, answer)
        expect(log).to_contain_text(question)

    # A reload: the history stays on the page, and the conversation goes on.
    page.reload()
    expect(log).to_contain_text("Confira suas respostas")
    expect(page.locator(".message.citizen", has_text="Centro")).to_have_count(1)
    expect(page.locator(".message", has_text="Confira suas respostas")).to_have_count(1)
    expect(page.locator("#hint")).to_be_hidden()
    expect(page.locator("button.choice:enabled")).to_have_count(3)
    assert focused(page) == "#text"
    back_to_choice(page, "1")
    page.keyboard.press("Enter")
    expect(log).to_contain_text(re.compile(r"protocolo é CAC-\d{4}-\d{6}"))
    expect(log).to_contain_text("Posso ajudar em algo mais?")
    screenshot(page, "webchat-desktop.png", tmp_path)

    say(page, "2")
    expect(log).to_contain_text("que nota você dá")
    say(page, "10")
    expect(log).to_contain_text("comentário")
    say(page, "não")
    expect(log).to_contain_text("Atendimento encerrado")
    expect(page.locator("body")).to_have_attribute("data-state", "closed")

    kept = stored_in_browser(page)
    assert any("Confira suas respostas" in text for text in kept)
    assert not any(CPF_DIGITS in re.sub(r"\D", "", text) for text in kept)
    assert errors == []
    with sqlite_storage.reading() as tx:
        (rating,) = tx.ratings()
        (conversation,) = tx.conversations()
    assert rating["score"] == 10 and conversation["state"] == "closed"
    assert conversation["channel"] == "webchat"
    context.close()


def test_an_attendant_answers_on_a_phone(
    browser: Any, served: tuple[Host, str], sqlite_storage: Storage, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    host, url = served
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, locale="pt-BR"
    )
    page, errors, _ = open_chat(context, url)
    log = page.locator("#messages")
    say(page, "oi")
    expect(log).to_contain_text("nome completo")
    say(page, MARIA)
    expect(page.locator("button.choice:enabled")).to_have_count(3)
    say(page, "2")  # PROCON, by its number
    expect(log).to_contain_text("PROCON")
    say(page, "quero falar com um atendente")
    expect(page.locator(".message.bot").last).to_contain_text("equipe")
    with sqlite_storage.reading() as tx:
        (conversation,) = tx.conversations()
    assert conversation["state"] == "waiting_human"

    staff.take(host.engine, conversation["id"], "Ana")
    staff.reply(host.engine, conversation["id"], "Ana", "Bom dia, Maria! Já vejo o seu pedido.")
    agent = page.locator(".message.agent")
    expect(agent).to_have_count(1, timeout=POLLED)  # brought by the page's poll
    expect(agent).to_contain_text("Ana · atendente")
    expect(agent).to_contain_text("Já vejo o seu pedido")
    say(page, "Comprei uma geladeira que veio com defeito.")
    expect(page.locator(".message.citizen", has_text="geladeira")).to_have_count(1)
    staff.reply(host.engine, conversation["id"], "Ana", "Entendi. Qual é a loja?")
    expect(agent).to_have_count(2, timeout=POLLED)
    page.wait_for_timeout(3500)  # another poll: nothing shown twice
    expect(agent).to_have_count(2)
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the page scrolls sideways on a 360 px screen"
    expect(page.locator("#text")).to_be_in_viewport()
    expect(page.get_by_role("button", name="Enviar")).to_be_in_viewport()
    screenshot(page, "webchat-phone.png", tmp_path)

    # The citizen closes the tab; what the attendant writes meanwhile waits in the outbox
    # and is shown as soon as a new tab opens the chat.
    page.close()
    staff.reply(host.engine, conversation["id"], "Ana", "Pode me mandar a nota fiscal?")
    page, more_errors, waiting = open_chat(context, url)
    errors += more_errors
    assert [(m["author"], m["agent"]) for m in waiting["messages"]] == [("agent", "Ana")]
    log = page.locator("#messages")
    agent = page.locator(".message.agent")
    expect(agent).to_have_count(1)
    expect(agent).to_contain_text("nota fiscal")
    say(page, "Mando sim.")
    expect(page.locator(".message.citizen")).to_have_count(1)
    page.reload()
    expect(agent).to_have_count(1)
    expect(page.locator(".message.citizen")).to_have_count(1)
    staff.close(host.engine, conversation["id"], "Ana")
    expect(log).to_contain_text("que nota você dá", timeout=POLLED)
    say(page, "9")
    expect(log).to_contain_text("comentário")
    say(page, "Ana foi muito atenciosa")
    expect(log).to_contain_text("Atendimento encerrado")
    assert errors == []
    with sqlite_storage.reading() as tx:
        (rating,) = tx.ratings()
    assert rating["score"] == 9 and rating["agent"] == "Ana"
    context.close()
