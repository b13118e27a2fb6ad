"""The queues and one conversation: what an attendant reads, and the staff actions.

Every action calls one function of :mod:`civic.staff` (one transaction each); this module
only checks that the attendant may see the conversation's department — a conversation of
another department is *not found*, exactly like one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civic import staff
from civic.console.web import Console, Refused, Visitor, explain, redirect
from civic.states import State

#: Conversation states as the console names them.
STATES = {
    "identifying": "Identificando-se",
    "choosing_department": "No menu",
    "in_department": "Com o robô",
    "filling_form": "Preenchendo formulário",
    "waiting_human": "Aguardando atendente",
    "with_agent": "Em atendimento",
    "offering_help": "Com o robô",
    "rating": "Avaliando",
    "closed": "Encerrada",
}

#: Events of the history as the console names them.
EVENTS = {
    "handed_over": "Pediu atendimento humano",
    "taken": "Assumiu a conversa",
    "released": "Devolveu à fila",
    "transferred": "Transferiu",
    "resolved": "Encerrou o atendimento (pesquisa enviada)",
    "expired": "Encerrada por inatividade",
    "closed": "Encerrada",
}

CHANNELS = {"whatsapp": "WhatsApp", "webchat": "Chat do site", "terminal": "Terminal"}

#: Delivery statuses of the outbox as the console names them.
DELIVERY = {
    "pending": "na fila de envio",
    "sent": "enviada",
    "delivered": "entregue",
    "read": "lida",
    "failed": "falhou",
}

#: What ``?feito=`` says after an action.
DONE = {
    "assumida": "Conversa assumida: ela é sua.",
    "respondida": "Resposta enviada.",
    "transferida": "Conversa transferida.",
    "devolvida": "Conversa devolvida à fila.",
    "encerrada": "Atendimento encerrado: o cidadão recebeu a pesquisa de satisfação.",
}

#: A message the citizen sent with media: ``[image 123] caption``.
MEDIA = re.compile(r"^\[([a-z_]+)(?: ([^\]\s]+))?\]\s*(.*)$", re.S)
MEDIA_KINDS = {
    "image": "Imagem",
    "audio": "Áudio",
    "voice": "Áudio",
    "video": "Vídeo",
    "document": "Documento",
    "sticker": "Figurinha",
    "location": "Localização",
    "contacts": "Contato",
}


@attrs.frozen
class Queues:
    """The conversations with the team that an attendant may see, in three lists."""

    waiting: list[staff.QueueEntry]
    in_progress: list[staff.QueueEntry]
    mine: list[staff.QueueEntry]


def queues(console: Console, visitor: Visitor) -> Queues:
    """Blocking: the queues of the attendant's departments (every one for admins)."""
    engine = console.engine
    if visitor.account.is_admin:
        departments: list[str | None] = [None]
    else:
        departments = [d for d in engine.registry.slugs if visitor.can_see(d)]
    waiting: list[staff.QueueEntry] = []
    taken: list[staff.QueueEntry] = []
    for department in departments:
        waiting += staff.queue_entries(engine, department=department, state=State.HUMAN.value)
        taken += staff.queue_entries(engine, department=department, state=State.AGENT.value)
    waiting.sort(key=lambda e: (e.waiting_since or e.opened_at, e.id))
    taken.sort(key=lambda e: (e.waiting_since or e.opened_at, e.id))
    return Queues(
        waiting=waiting,
        in_progress=[e for e in taken if e.agent != visitor.name],
        mine=[e for e in taken if e.agent == visitor.name],
    )


def media_of(items: list[staff.HistoryItem]) -> list[dict[str, Any]]:
    """The media the citizen sent, in order: kind, the channel's id, caption, time."""
    found = []
    for item in items:
        if item.kind != "message" or item.author != "citizen":
            continue
        match = MEDIA.match(item.text)
        if match:
            kind = match.group(1)
            found.append(
                {
                    "kind": MEDIA_KINDS.get(kind, kind),
                    "id": match.group(2),
                    "caption": match.group(3),
                    "at": item.at,
                }
            )
    return found


def conversation(console: Console, visitor: Visitor, conversation_id: int) -> dict[str, Any]:
    """Blocking: everything the conversation page shows; :class:`Refused` (404) when it
    does not exist or belongs to a department the attendant does not see."""
    from civic import canned

    engine = console.engine
    try:
        info, items = staff.history(engine, conversation_id)
    except staff.NotFound:
        raise Refused(404, "Conversa não encontrada.") from None
    if not visitor.can_see(info["department"]):
        raise Refused(404, "Conversa não encontrada.")
    masked = None
    if info.get("citizen_id"):
        with engine.storage.reading() as tx:
            citizen = tx.citizen(info["citizen_id"])
        masked = citizen["cpf_masked"] if citizen else None
    department = engine.registry.get(info["department"])
    answers = canned.list_canned(engine, info["department"]) if info["department"] else []
    state = info["state"]
    mine = state == State.AGENT and info["agent"] == visitor.name
    return {
        "info": info,
        "items": items,
        "media": media_of(items),
        "cpf_masked": masked,
        "department": department,
        "state_label": STATES.get(state, state),
        "channel_label": CHANNELS.get(info["channel"], info["channel"]),
        "canned": answers,
        "can_take": state == State.HUMAN,
        "can_reply": state == State.HUMAN or mine,
        "can_release": mine,
        "can_close": state == State.HUMAN or mine,
        "can_transfer": state == State.HUMAN or mine,
        "other_agent": info["agent"] if state == State.AGENT and not mine else None,
        "targets": [d for d in engine.registry if d.slug != info["department"]],
    }


def routes(console: Console) -> list[Route]:
    """The queue page and its polled fragment, the conversation page and its actions."""
    host = console.host

    async def home(request: Request, visitor: Visitor) -> Response:
        found = await host.call(queues, console, visitor)
        return console.render(
            "queues.html", {"queues": found, "section": "queues"}, visitor=visitor
        )

    async def queues_fragment(request: Request, visitor: Visitor) -> Response:
        found = await host.call(queues, console, visitor)
        response = console.render("_queues.html", {"queues": found}, visitor=visitor)
        response.headers["X-Queue-Waiting"] = str(len(found.waiting))
        return response

    async def show(request: Request, visitor: Visitor) -> Response:
        conversation_id = _id(request)
        page = await host.call(conversation, console, visitor, conversation_id)
        notice = DONE.get(request.query_params.get("feito", ""))
        return console.render(
            "conversation.html",
            {**page, "section": "queues", "notice": notice, "draft": "", "revealed": None},
            visitor=visitor,
        )

    async def history_fragment(request: Request, visitor: Visitor) -> Response:
        page = await host.call(conversation, console, visitor, _id(request))
        return console.render("_history.html", page, visitor=visitor)

    def act(work: Any, done: str) -> Any:
        """An action on the conversation of the URL: ``work(engine, id, visitor, form)``
        in a thread; back to the page, or the page again with why it could not be done."""

        async def endpoint(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
            conversation_id = _id(request)
            await host.call(conversation, console, visitor, conversation_id)  # 404 first
            try:
                await host.call(work, console.engine, conversation_id, visitor, form)
            except staff.StaffError as exc:
                page = await host.call(conversation, console, visitor, conversation_id)
                return console.render(
                    "conversation.html",
                    {
                        **page,
                        "section": "queues",
                        "error": f"Não foi possível: {explain(exc)}",
                        "draft": form.get("text", ""),
                        "revealed": None,
                    },
                    status=409,
                    visitor=visitor,
                )
            if done == "transferida" and not visitor.can_see(form.get("department")):
                return redirect("/console?feito=transferida")  # no longer theirs to see
            return redirect(f"/console/conversations/{conversation_id}?feito={done}")

        return endpoint

    def take(engine: Any, cid: int, visitor: Visitor, form: Mapping[str, str]) -> None:
        staff.take(engine, cid, visitor.name)

    def reply(engine: Any, cid: int, visitor: Visitor, form: Mapping[str, str]) -> None:
        staff.reply(engine, cid, visitor.name, form.get("text", ""))

    def transfer(engine: Any, cid: int, visitor: Visitor, form: Mapping[str, str]) -> None:
        note = form.get("note") or None
        staff.transfer(engine, cid, form.get("department", ""), agent=visitor.name, note=note)

    def release(engine: Any, cid: int, visitor: Visitor, form: Mapping[str, str]) -> None:
        staff.release(engine, cid, visitor.name)

    def close(engine: Any, cid: int, visitor: Visitor, form: Mapping[str, str]) -> None:
        staff.close(engine, cid, visitor.name)

    async def reveal(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        from civic.cpf import formatted

        conversation_id = _id(request)
        page = await host.call(conversation, console, visitor, conversation_id)
        reason = form.get("reason", "").strip()
        context = {**page, "section": "queues", "draft": "", "revealed": None}
        if not reason:
            context["error"] = "Diga por que precisa ver o CPF: o motivo fica registrado."
            return console.render("conversation.html", context, status=400, visitor=visitor)
        try:
            number = await host.call(
                staff.reveal_cpf, console.engine, conversation_id, visitor.name, reason
            )
        except staff.StaffError as exc:
            context["error"] = f"Não foi possível mostrar o CPF: {explain(exc)}"
            return console.render("conversation.html", context, status=409, visitor=visitor)
        context["revealed"] = formatted(number)
        return console.render("conversation.html", context, visitor=visitor)

    base = "/console/conversations/{conversation_id:int}"
    return [
        Route("/console", console.page(home), methods=["GET"]),
        Route("/console/queues", console.fragment(queues_fragment), methods=["GET"]),
        Route(base, console.page(show), methods=["GET"]),
        Route(f"{base}/history", console.fragment(history_fragment), methods=["GET"]),
        Route(f"{base}/take", console.action(act(take, "assumida")), methods=["POST"]),
        Route(f"{base}/reply", console.action(act(reply, "respondida")), methods=["POST"]),
        Route(f"{base}/transfer", console.action(act(transfer, "transferida")), methods=["POST"]),
        Route(f"{base}/release", console.action(act(release, "devolvida")), methods=["POST"]),
        Route(f"{base}/close", console.action(act(close, "encerrada")), methods=["POST"]),
        Route(f"{base}/reveal-cpf", console.action(reveal), methods=["POST"]),
    ]


def _id(request: Request) -> int:
    """The conversation id of the URL (one no database could hold is not found)."""
    value = int(request.path_params["conversation_id"])
    if value > 2**62:
        raise Refused(404, "Conversa não encontrada.")
    return value
