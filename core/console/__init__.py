"""The attendants' console: ``/console``, server-rendered pages over :mod:`civic.staff`.

A thin adapter, like a channel: every page reads through the staff, protocol, canned
response and report functions, and every action calls one of them (one transaction each).
The pages are plain HTML rendered with Jinja2, in Portuguese, usable with the keyboard
alone; one small script (``static/console.js``) refreshes the queues and the open
conversation without reloading and inserts canned responses.

- :mod:`civic.console.web`: sessions, CSRF, forms, security headers, rendering.
- :mod:`civic.console.auth`: signing in and out.
- :mod:`civic.console.conversations`: the queues, a conversation, the staff actions.
- :mod:`civic.console.protocols`, :mod:`civic.console.canned`,
  :mod:`civic.console.reports`: the other pages; :mod:`civic.console.citizens`: a
  citizen's data by CPF (admins only).

``civic serve`` mounts it (:func:`civic.serve.create_app`); attendants get accounts with
``civic agents add``.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civic.channels import Host

#: The console's static files and their media types (nothing else is served).
STATIC = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}


def routes(host: Host) -> list[Route]:
    """Every route of the console, over ``host``'s engine."""
    from civic.console import auth, canned, citizens, conversations, protocols, reports
    from civic.console.web import HEADERS, Console

    console = Console(host)
    console.templates.filters.update(
        status=protocols.status_label, value_of=reports.value_of, figure_of=reports.figure_of
    )
    console.templates.globals.update(
        channels=conversations.CHANNELS,
        delivery=conversations.DELIVERY,
        events=conversations.EVENTS,
    )
    files = {
        name: resources.files("civic.console").joinpath("static", name).read_bytes()
        for name in STATIC
    }

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files:
            return Response("Não encontrado.", status_code=404, media_type="text/plain")
        headers = {**HEADERS, "Cache-Control": "no-cache"}
        return Response(files[name], media_type=STATIC[name], headers=headers)

    return [
        *auth.routes(console),
        *conversations.routes(console),
        *protocols.routes(console),
        *canned.routes(console),
        *reports.routes(console),
        *citizens.routes(console),
        Route("/console/static/{name:str}", static, methods=["GET"]),
    ]


__all__ = ["routes"]
