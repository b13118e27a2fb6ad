"""A scripted citizen for engine tests: send lines, read what civic answered."""

from __future__ import annotations

import itertools

from civic.engine import Engine
from civic.values import Inbound, Outcome

MARIA = "Maria José dos Santos 529.982.247-25"
_ids = itertools.count(1)


class Chat:
    """One citizen address talking to an engine, as a channel does: each message's
    replies are marked sent once read (``deliver=False`` leaves them pending)."""

    def __init__(
        self,
        engine: Engine,
        address: str = "5535999990000",
        *,
        pinned: str | None = None,
        deliver: bool = True,
    ):
        self.engine = engine
        self.address = address
        self.pinned = pinned
        self.deliver = deliver
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
        if self.deliver:
            self.engine.mark([d.id for d in self.last.deliveries if d.status == "pending"], "sent")
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
