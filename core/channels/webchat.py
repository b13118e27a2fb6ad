"""The web chat: a page at ``/chat`` where a citizen talks to civic from a browser.

The browser *pulls* its messages, so the channel has no sender: ``POST /chat/messages``
answers with the replies to the message just sent, and ``GET /chat/messages`` (polled by
the page) with whatever else waits in the outbox for this citizen (an attendant's reply,
the survey after an attendant closed). Both mark what they return ``delivered``.

A citizen is known only by the ``civic_chat`` cookie, an opaque random token set by
``GET /chat``; their address in civic is a hash of it (``web-<hash>``), so the database
never holds a token that would let its reader take over the chat, and never a CPF.

A citizen's flood is answered once by the engine (:mod:`civic.rate_limit`); besides, each
worker answers 429 to an IP address that posts more than ``[limits]
webchat_per_ip_per_minute`` messages within a minute (new cookies do not escape it).

Cross-site requests are refused three ways: the cookie is ``SameSite=Lax``, a message must
be sent as ``application/json`` (a form on another site cannot, without a CORS preflight
civic never answers), and an ``Origin`` or ``Sec-Fetch-Site`` header that names another
site is refused.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import secrets
import time
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from civic import rate_limit
from civic.channels import Host
from civic.engine import InvalidInbound
from civic.same_site import from_same_site, scheme
from civic.values import Delivery, Inbound

log = logging.getLogger(__name__)

CHANNEL = "webchat"
COOKIE = "civic_chat"
COOKIE_MAX_AGE = 180 * 24 * 3600  # renewed at each visit of the page
TEXT_LIMIT = 4000
BODY_LIMIT = 16 * 1024
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{8,100}")

#: What the citizen is told when a request is refused (shown by the page as is).
ERRORS = {
    "cross_site": "Pedido recusado: ele não veio desta página.",
    "content_type": "Envie a mensagem como JSON (Content-Type: application/json).",
    "cookie": "Não encontramos a sua conversa. Recarregue a página (e permita cookies).",
    "too_large": f"Mensagem grande demais: o limite é de {TEXT_LIMIT} caracteres.",
    "json": "Não entendemos o pedido: envie um JSON com o texto e o id da mensagem.",
    "empty": "Digite uma mensagem antes de enviar.",
    "too_long": f"Mensagem longa demais: o limite é de {TEXT_LIMIT} caracteres.",
    "id": "A mensagem veio sem um id válido. Recarregue a página.",
    "invalid": "Não foi possível processar esta mensagem. Recarregue a página.",
    "unavailable": "O atendimento está indisponível no momento. Tente de novo em instantes.",
    "too_many": "Muitas mensagens em pouco tempo. Aguarde um minuto e envie de novo.",
}


class Refused(Exception):
    """A request the web chat will not process: its HTTP status and the error's key."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error

    def response(self) -> JSONResponse:
        return _json({"error": ERRORS[self.error]}, status_code=self.status)


def routes(host: Host) -> list[Route]:
    """The page and its messages endpoint, over ``host``'s engine."""
    page = _page(host.config.city)
    per_ip = rate_limit.Window(host.config.limits.webchat_per_ip_per_minute)

    async def chat(request: Request) -> Response:
        token = _token(request) or secrets.token_urlsafe(18)
        response = HTMLResponse(page.html, headers=page.headers)
        response.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_MAX_AGE,
            path="/",
            secure=scheme(request) == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    async def messages(request: Request) -> Response:
        try:
            _check_same_site(request)
            if request.method == "POST":
                client = request.client.host if request.client else ""
                if not per_ip.allow(client, time.monotonic()):
                    raise Refused(429, "too_many")
                return await _post(host, request)
            address = _address(request)
            found = await host.call(_pending, host, address)
            return _json(found)
        except Refused as refused:
            return refused.response()

    return [
        Route("/chat", chat, methods=["GET"]),
        Route("/chat/messages", messages, methods=["GET", "POST"]),
    ]


async def _post(host: Host, request: Request) -> Response:
    """Run one citizen message through the engine; answer with its replies."""
    if _media_type(request) != "application/json":
        raise Refused(415, "content_type")
    address = _address(request)
    text, message_id = _message(await _body(request))
    inbound = Inbound(channel=CHANNEL, address=address, text=text, channel_message_id=message_id)
    try:
        found = await host.call(_handle, host, inbound)
    except InvalidInbound as exc:
        log.warning("webchat: message refused by the engine: %s", exc)
        raise Refused(400, "invalid") from None
    except Exception:
        log.exception("webchat: the engine failed; the page will send the message again")
        raise Refused(503, "unavailable") from None
    return _json(found)


def _handle(host: Host, inbound: Inbound) -> dict[str, Any]:
    """Blocking: process the message (a duplicate id returns the stored replies) and
    mark its replies delivered, since they go back in this very response."""
    outcome = host.engine.handle(inbound)
    host.engine.mark([d.id for d in outcome.deliveries], "delivered")
    return {"messages": [_shape(d) for d in outcome.deliveries], "state": outcome.state}


def _pending(host: Host, address: str) -> dict[str, Any]:
    """Blocking: what waits for ``address``, marked delivered, and the conversation's
    state (``None`` when nothing waits)."""
    waiting = host.engine.pending(CHANNEL, address)
    host.engine.mark([d.id for d in waiting], "delivered")
    state = None
    if waiting and waiting[-1].conversation_id is not None:
        conversation = host.engine.conversation(waiting[-1].conversation_id)
        state = conversation.state if conversation else None
    return {"messages": [_shape(d) for d in waiting], "state": state}


def _shape(delivery: Delivery) -> dict[str, Any]:
    """One outbox message as the page reads it."""
    return {
        "id": delivery.id,
        "text": delivery.reply.text,
        "choices": [{"value": c.value, "label": c.label} for c in delivery.reply.choices],
        "author": delivery.author,
        "agent": delivery.agent if delivery.author == "agent" else None,
    }


# -- the request ----------------------------------------------------------------------


def _token(request: Request) -> str | None:
    """The citizen's chat token from the cookie, when it has the shape civic gives."""
    token = request.cookies.get(COOKIE, "")
    return token if _TOKEN.fullmatch(token) else None


def _address(request: Request) -> str:
    """The citizen's address in civic: a hash of the token, never the token itself."""
    token = _token(request)
    if token is None:
        raise Refused(400, "cookie")
    return "web-" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _check_same_site(request: Request) -> None:
    """Refuse a request another site made the browser send."""
    if not from_same_site(request):
        raise Refused(403, "cross_site")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _body(request: Request) -> bytes:
    """The request's body, refused past :data:`BODY_LIMIT` before all of it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise Refused(413, "too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise Refused(413, "too_large")
    return bytes(body)


def _message(body: bytes) -> tuple[str, str]:
    """The text and the client's message id of a JSON body, checked."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "json") from None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise Refused(400, "json")
    text = data["text"].strip()
    if not text:
        raise Refused(400, "empty")
    if len(text) > TEXT_LIMIT:
        raise Refused(400, "too_long")
    message_id = data.get("id")
    if not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id):
        raise Refused(400, "id")
    return text, message_id


def _json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers={"Cache-Control": "no-store"})


# -- the page -------------------------------------------------------------------------


class _Page:
    """The page's HTML (with the city's name) and its headers: a Content-Security-Policy
    that allows exactly its inline script and style, by hash."""

    def __init__(self, source: str, city: str) -> None:
        self.html = source.replace("{{city}}", html.escape(city))
        script = _digest(re.search(r"<script>(.*?)</script>", source, re.S))
        style = _digest(re.search(r"<style>(.*?)</style>", source, re.S))
        self.headers = {
            "Content-Security-Policy": (
                f"default-src 'none'; script-src '{script}'; style-src '{style}'; "
                "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'self'; "
                "frame-ancestors 'none'"
            ),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }


def _digest(match: re.Match[str] | None) -> str:
    assert match is not None, "webchat.html must have one inline <script> and <style>"
    digest = hashlib.sha256(match.group(1).encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def _page(city: str) -> _Page:
    source = resources.files("civic.channels").joinpath("webchat.html").read_text("utf-8")
    return _Page(source, city)


__all__ = ["BODY_LIMIT", "COOKIE", "ERRORS", "TEXT_LIMIT", "routes"]
