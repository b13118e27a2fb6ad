"""Security headers on every response of ``civic serve``, whichever route answers.

The console and the web chat set their own Content-Security-Policy (the console allows
only its own script and style files, the web chat its one inline script and style by
hash); :class:`SecurityHeaders` adds, to every response that lacks them, the headers
below: JSON answers, the WhatsApp webhook, ``/healthz``, Starlette's own 404 and 405
pages. A header a route set is never replaced.

Over HTTPS (as the reverse proxy tells uvicorn), ``Strict-Transport-Security`` is added
too, so a browser never comes back over plain HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: What every response carries unless its route set the header itself. The policy
#: allows nothing: a response that shows a page sets its own.
HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
    ),
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Added over HTTPS only: a year, subdomains included.
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` (and, over HTTPS, :data:`HSTS`) to every
    HTTP response start that lacks them. A plain ASGI wrapper, so streamed bodies and
    background tasks pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = dict(HEADERS)
        if scope.get("scheme") == "https":
            extra["Strict-Transport-Security"] = HSTS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.decode("latin-1").lower() for name, _ in headers}
                headers += [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in extra.items()
                    if name.lower() not in present
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["HEADERS", "HSTS", "SecurityHeaders"]
