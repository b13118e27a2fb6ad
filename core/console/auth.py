"""Signing in and out of the console.

The sign-in form carries a random token that must match a short-lived cookie (so another
site cannot sign a browser into an account of its choosing); a correct password starts a
server-side session whose token becomes the ``civic_console`` cookie. Throttling of
repeated failures is :mod:`civic.accounts`' job; its message is shown as is.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civic.console.web import (
    COOKIE,
    LOGIN_COOKIE,
    Console,
    Refused,
    Visitor,
    check_same_site,
    read_form,
    redirect,
    safe_next,
    same_token,
    secured,
    set_cookie,
)

#: How long the sign-in form stays valid (seconds).
LOGIN_FORM_AGE = 30 * 60


def routes(console: Console) -> list[Route]:
    """``/console/login`` (GET, POST) and ``/console/logout`` (POST)."""
    from civic import accounts

    def form(
        request: Request, *, status: int = 200, error: str | None = None, name: str = ""
    ) -> Response:
        """The sign-in page, with a fresh form token in its cookie."""
        token = secrets.token_urlsafe(24)
        response = console.render(
            "login.html",
            {
                "csrf": token,
                "next": safe_next(request.query_params.get("next")),
                "name": name,
                "error": error,
            },
            status=status,
        )
        set_cookie(response, request, LOGIN_COOKIE, token, LOGIN_FORM_AGE)
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            if await console.visitor(request) is not None:
                return redirect(safe_next(request.query_params.get("next")))
            return form(request)
        try:
            check_same_site(request)
            fields = await read_form(request)
        except Refused as refused:
            return console.refusal(refused)
        if not same_token(fields.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")):
            return form(
                request,
                status=403,
                error="O formulário expirou. Digite seu nome e sua senha de novo.",
                name=fields.get("name", "")[:64],
            )
        name = fields.get("name", "").strip()
        password = fields.get("password", "")
        now = console.now()
        try:
            account = await console.host.call(
                accounts.authenticate, console.storage, name, password, now
            )
        except accounts.Throttled as exc:
            return form(request, status=429, error=str(exc), name=name[:64])
        except accounts.AuthError as exc:
            return form(request, status=401, error=str(exc), name=name[:64])
        token, _ = await console.host.call(accounts.start_session, console.storage, account, now)
        response = redirect(safe_next(fields.get("next")))
        # The cookie cannot outlive the session: it ends at the session's hard limit (the
        # server ends an idle session sooner, and signing out ends both).
        set_cookie(response, request, COOKIE, token, int(accounts.MAX_SESSION.total_seconds()))
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response

    async def logout(request: Request, visitor: Visitor, fields: Mapping[str, str]) -> Response:
        await console.host.call(accounts.end_session, console.storage, visitor.token)
        response = redirect("/console/login")
        response.delete_cookie(COOKIE, path="/console")
        return secured(response)

    return [
        Route("/console/login", login, methods=["GET", "POST"]),
        Route("/console/logout", console.action(logout), methods=["POST"]),
    ]
