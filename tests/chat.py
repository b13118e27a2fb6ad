"""A scripted citizen for engine tests: send lines, read what civic answered."""

from __future__ import annotations

import itertools

from civic.engine import Engine
from civic.values import Inbound, Outcome

MARIA = "Maria José dos Santos 529.982.247-25"
_ids = itertools.count(1)


class Chat:
    """One citizen address talking to an engine."""

    def __init__(
        self, engine: Engine, address: str = "5535999990000", *, pinned: str | None = None
    ):
        self.engine = engine
        self.address = address
        self.pinned = pinned
        self.last: Outcome | None = None

    def send(self, text: str, *, message_id: str | None = None) -> str:
        """Send one message; return every reply rendered, joined by blank lines."""
        self.last = self.engine.handle(
            Inbound(
                channel="test",
                address=self.address,
                text=text,
                channel_message_id=message_id or f"m{next(_ids)}",
                pinned_department=self.pinned,
            )
        )
        return "\n\n".join(Engine.render(reply) for reply in self.last.replies)

    @property
    def state(self) -> str:
        assert self.last is not None
        return self.last.state

    def script(self, *lines: str) -> str:
        """Send each line; return the replies to the last one."""
        answer = ""
        for line in lines:
            answer = self.send(line)
        return answer
