"""The built-in channels: WhatsApp, the web chat, and the terminal of ``civic run``.

Each is registered exactly as a third-party channel would be. Their HTTP parts are
imported only when ``civic serve`` asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from civic import hookimpl
from civic.channels import Channel, Host, Outgoing, Sent


def _whatsapp_routes(host: Host) -> Sequence[Any]:
    from civic.channels import whatsapp

    return whatsapp.routes(host)


async def _whatsapp_send(host: Host, outgoing: Outgoing) -> Sent:
    from civic.channels import whatsapp

    return await whatsapp.send(host, outgoing)


def _whatsapp_problems(host: Host) -> list[str]:
    from civic.channels import whatsapp

    return whatsapp.problems(host)


def _whatsapp_process(host: Host, body: bytes) -> Sequence[str]:
    from civic.channels import whatsapp

    return whatsapp.process(host, body)


def _webchat_routes(host: Host) -> Sequence[Any]:
    from civic.channels import webchat

    return webchat.routes(host)


@hookimpl
def register_channels(register: Callable[[Channel], None]) -> None:
    register(
        Channel(
            name="whatsapp",
            description="WhatsApp Cloud API (Meta): webhook at /webhooks/whatsapp",
            routes=_whatsapp_routes,
            sender=_whatsapp_send,
            settings=(
                "CIVIC_WHATSAPP_APP_SECRET",
                "CIVIC_WHATSAPP_VERIFY_TOKEN",
                "CIVIC_WHATSAPP_ACCESS_TOKEN",
                "CIVIC_WHATSAPP_API_URL",
            ),
            problems=_whatsapp_problems,
            process=_whatsapp_process,
        )
    )
    register(
        Channel(
            name="webchat", description="web chat for citizens at /chat", routes=_webchat_routes
        )
    )
    register(Channel(name="terminal", description="civic run: a citizen in the terminal"))
