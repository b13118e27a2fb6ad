"""The HTTP protocol ``civic serve`` gives uvicorn: uvicorn's own, with ``TCP_NODELAY``.

With ``--workers N`` uvicorn hands each worker a listening socket on which the accepted
connections keep Nagle's algorithm on, so every response on a kept-alive connection waits
for the client's delayed acknowledgement (about 40 ms on Linux; uvicorn issue #3149).
Setting ``TCP_NODELAY`` on each connection as it is made removes the wait; it is what
asyncio itself does for the connections of a server it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

try:  # the C parser when installed (a dependency of civic), else the pure-Python one
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Protocol
except ImportError:  # pragma: no cover - httptools missing on this platform
    from uvicorn.protocols.http.h11_impl import (  # type: ignore[assignment]
        H11Protocol as _Protocol,
    )


class NoDelayProtocol(_Protocol):
    """uvicorn's HTTP protocol, with ``TCP_NODELAY`` set on each TCP connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock: Any = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # a socket that cannot take it: serve anyway
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
