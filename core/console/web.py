"""What every console page and action shares: the session, CSRF, forms, headers, HTML.

A page (``GET``) without a valid session redirects to the sign-in page; an action
(``POST``) without one is refused with 401, and with a wrong CSRF token (or from another
site) with 403. Every response carries the same security headers: a Content-Security-
Policy that allows only the console's own script and style files (no inline script at
all), no framing, and ``no-store``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import logging
import re
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, quote

import attrs
import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from civic.channels import Host
from civic.same_site import from_same_site, scheme

if TYPE_CHECKING:
    from civic.accounts import Account

log = logging.getLogger(__name__)

#: The session cookie: the session's token (the database keeps only its hash).
COOKIE = "civic_console"
#: Before sign-in: a random token the sign-in form must send back (login CSRF).
LOGIN_COOKIE = "civic_console_login"
#: The largest form the console accepts.
BODY_LIMIT = 64 * 1024
LOGIN_PATH = "/console/login"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    # Not no-referrer: browsers would then send "Origin: null" with every form.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

#: Why a request is refused, as the console says it.
MESSAGES = {
    401: "Sua sessão terminou ou você não entrou. Entre novamente para continuar.",
    403: "Pedido recusado: o formulário expirou ou não veio do console. Recarregue a página.",
    404: "Não encontrado.",
    413: "Formulário grande demais.",
    415: "Envie o formulário como um formulário HTML.",
}


class Refused(Exception):
    """A request the console answers with an error page (its status says which)."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or MESSAGES.get(status, ""))
        self.status = status
        self.message = message or MESSAGES.get(status, "")


@attrs.frozen
class Visitor:
    """The signed-in attendant of a request: their account, session token and CSRF token."""

    account: Account
    token: str
    csrf: str

    @property
    def name(self) -> str:
        return self.account.name

    def can_see(self, department: str | None) -> bool:
        """Whether this attendant may see a conversation or protocol of ``department``
        (one with no department yet only admins see)."""
        if self.account.is_admin:
            return True
        return department is not None and self.account.can_see(department)


R = TypeVar("R", bound=Response)
Handler = Callable[[Request, Visitor], Awaitable[Response]]
FormHandler = Callable[[Request, Visitor, Mapping[str, str]], Awaitable[Response]]


class Console:
    """The console over one :class:`~civic.channels.Host`: templates, the clock, sessions."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.engine = host.engine
        self.storage = host.engine.storage
        self.zone = zoneinfo.ZoneInfo(host.config.hours.timezone)
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("civic.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(when=self.when, ago=self.ago, duration=duration, day=self.day)
        self.templates.globals.update(city=host.config.city)

    # -- time -------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self.engine.clock()

    def today(self) -> dt.date:
        """The city's date now."""
        return self.now().astimezone(self.zone).date()

    def when(self, moment: dt.datetime | None) -> str:
        """``16/03/2021 14:05`` in the city's time zone."""
        return moment.astimezone(self.zone).strftime("%d/%m/%Y %H:%M") if moment else "—"

    def day(self, moment: dt.datetime | None) -> str:
        return moment.astimezone(self.zone).strftime("%d/%m/%Y") if moment else "—"

    def ago(self, moment: dt.datetime | None) -> str:
        """How long since ``moment``: ``há 5 min``."""
        if moment is None:
            return "—"
        seconds = max(0, (self.now() - moment).total_seconds())
        return "agora" if seconds < 60 else "há " + duration(seconds)

    # -- sessions ---------------------------------------------------------------------

    async def visitor(self, request: Request) -> Visitor | None:
        """The signed-in attendant of ``request``, or ``None``."""
        from civic import accounts

        token = request.cookies.get(COOKIE, "")
        if not token or len(token) > 256:
            return None
        found = await self.host.call(accounts.session_account, self.storage, token, self.now())
        if found is None:
            return None
        account, csrf = found
        if not account.active:
            return None
        return Visitor(account=account, token=token, csrf=csrf)

    def page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A ``GET`` endpoint for signed-in attendants; others go to the sign-in page."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            visitor = await self.visitor(request)
            if visitor is None:
                return secured(RedirectResponse(login_url(request), status_code=303))
            try:
                return secured(await handler(request, visitor))
            except Refused as refused:
                return self.refusal(refused, visitor)

        return endpoint

    def fragment(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A ``GET`` the page's script polls: 401 (not a redirect) without a session."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            visitor = await self.visitor(request)
            try:
                if visitor is None:
                    raise Refused(401)
                return secured(await handler(request, visitor))
            except Refused as refused:
                return self.refusal(refused, visitor)

        return endpoint

    def action(self, handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
        """A ``POST`` endpoint: a session (401), a form from the console with the
        session's CSRF token (403), then ``handler(request, visitor, form)``."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            visitor = await self.visitor(request)
            try:
                if visitor is None:
                    raise Refused(401)
                check_same_site(request)
                form = await read_form(request)
                if not same_token(form.get("csrf"), visitor.csrf):
                    raise Refused(403)
                return secured(await handler(request, visitor, form))
            except Refused as refused:
                return self.refusal(refused, visitor)

        return endpoint

    # -- responses --------------------------------------------------------------------

    def render(
        self,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        visitor: Visitor | None = None,
    ) -> HTMLResponse:
        """A page rendered from ``templates/<template>`` with the security headers."""
        page = self.templates.get_template(template).render(
            {"visitor": visitor, "section": None, "notice": None, "error": None, **context}
        )
        return secured(HTMLResponse(page, status_code=status))

    def refusal(self, refused: Refused, visitor: Visitor | None = None) -> HTMLResponse:
        """The error page of a refused request (with the console's menu when signed in)."""
        return self.render(
            "refused.html",
            {"status": refused.status, "message": refused.message},
            status=refused.status,
            visitor=visitor,
        )


#: The staff functions' refusals (written for the operator, in English), as the console
#: says them; anything else is shown as it is.
EXPLAINED = (
    (r"is with (?P<agent>.+?); they must", "A conversa está com {agent}; peça que a devolva."),
    (r"is with (?P<agent>.+)$", "A conversa está com {agent}; peça que a devolva ou transfira."),
    (r"^conversation \d+ is closed$", "A conversa já foi encerrada."),
    (r"is not waiting for a person", "A conversa não está aguardando atendente."),
    (r"is not with the team", "A conversa não está com a equipe: o cidadão está com o robô."),
    (r"is not with an attendant", "A conversa não está com um atendente."),
    (r"is already in ", "A conversa já está nesse departamento."),
    (r"has not taken conversation", "Assuma a conversa antes de ver o CPF."),
    (r"has no identified citizen", "O cidadão não informou o CPF."),
    (r"^the reply is empty$", "Escreva a resposta antes de enviar."),
    (r"^the (reply|text) is longer than (?P<n>\d+)", "O texto passa de {n} caracteres."),
    (r"^the title is empty$", "Dê um título à resposta pronta."),
    (r"^the title is longer than (?P<n>\d+)", "O título passa de {n} caracteres."),
    (r"^the text is empty$", "Escreva o texto da resposta pronta."),
    (r"^the .* note.* is longer than (?P<n>\d+)", "A nota passa de {n} caracteres."),
    (r"^protocol \S+ is already ", "O protocolo já está nessa situação."),
    (r"cannot go from|reopening it needs", "Essa mudança de situação não é permitida agora."),
    (r"^unknown department", "Departamento desconhecido."),
)


def explain(error: Exception) -> str:
    """A staff function's refusal in Portuguese (:data:`EXPLAINED`)."""
    message = str(error)
    for pattern, sentence in EXPLAINED:
        found = re.search(pattern, message)
        if found:
            return sentence.format(**found.groupdict())
    return message


def secured(response: R) -> R:
    """``response`` with the console's security headers."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def redirect(url: str) -> Response:
    """After an action: to ``url`` with ``GET`` (the browser's back button is harmless)."""
    return secured(RedirectResponse(url, status_code=303))


def login_url(request: Request) -> str:
    """The sign-in page, coming back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN_PATH}?next={quote(here, safe='/')}"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console page of this site, never elsewhere."""
    if not target or not target.startswith("/console") or target.startswith(LOGIN_PATH):
        return "/console"
    if "//" in target or "\\" in target or any(ord(ch) < 32 for ch in target):
        return "/console"
    return target


def same_token(given: str | None, expected: str) -> bool:
    """Whether ``given`` is the CSRF token, in constant time."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def check_same_site(request: Request) -> None:
    """Refuse a request another site made the browser send (the cookie is SameSite=Strict
    too; this also covers older browsers)."""
    if not from_same_site(request):
        raise Refused(403)


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (the last value of a
    repeated field wins), refused past :data:`BODY_LIMIT`."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if not media_type and declared in ("", "0"):
        return {}  # no form at all: refused for its missing CSRF token
    if media_type != "application/x-www-form-urlencoded":
        raise Refused(415)
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise Refused(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise Refused(413)
    try:
        fields = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64
        )
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "Formulário ilegível.") from None
    return {name: value.replace("\r\n", "\n") for name, value in fields}


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    """An HttpOnly, SameSite=Strict cookie for the whole console (Secure over https)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        secure=scheme(request) == "https",
        httponly=True,
        samesite="strict",
    )


def duration(value: float | None) -> str:
    """``45 s``, ``5 min``, ``2 h 05 min``, ``3 d 4 h``."""
    if value is None:
        return "—"
    seconds = round(value)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        rest = seconds % 60
        return f"{minutes} min {rest:02d} s" if minutes < 10 and rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def parse_date(value: str | None) -> dt.date | None:
    """A date from an ``<input type=date>`` (``2021-03-16``) or typed ``16/03/2021``;
    ``None`` for anything else, a year such as 9999 included (:func:`civic.when.filter_date`)."""
    from civic.when import filter_date

    return filter_date(value)
