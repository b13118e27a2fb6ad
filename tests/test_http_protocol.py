"""``civic serve``'s HTTP protocol sets ``TCP_NODELAY`` on every connection, even on a
listening socket asyncio does not recognise as TCP (how uvicorn's workers get theirs)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from civic.http_protocol import NoDelayProtocol


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _serve_one_request() -> tuple[int, bytes]:
    config = uvicorn.Config(_app, http=NoDelayProtocol, log_config=None, lifespan="off")
    config.load()
    state = ServerState()
    listener = socket.create_server(("127.0.0.1", 0))
    # What uvicorn's workers receive: the same socket through its file descriptor, whose
    # protocol number reads 0, so asyncio does not set TCP_NODELAY by itself.
    inherited = socket.fromfd(listener.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    listener.close()
    assert inherited.proto == 0
    made: list[NoDelayProtocol] = []

    def protocol() -> NoDelayProtocol:
        made.append(NoDelayProtocol(config=config, server_state=state, app_state={}))
        return made[-1]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, sock=inherited)
    port = inherited.getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    await writer.drain()
    answer = await reader.readuntil(b"ok")
    accepted = made[0].transport.get_extra_info("socket")
    nodelay = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    writer.close()
    server.close()
    await server.wait_closed()
    return nodelay, answer


def test_every_connection_has_tcp_nodelay() -> None:
    nodelay, answer = asyncio.run(_serve_one_request())
    assert nodelay != 0
    assert answer.startswith(b"HTTP/1.1 200")
