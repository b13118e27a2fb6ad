"""The protocols: a filtered list, one protocol's submission and history, and its status.

A protocol of a department the attendant does not see is *not found*. Changing the status
calls :func:`civic.protocols.set_status`, which writes to the citizen (through the outbox)
when there is a note for them; only the transitions it allows are offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civic import staff
from civic.console.web import Console, Refused, Visitor, explain, parse_date, redirect

#: Protocol statuses as the console names them (an unknown one is shown as is).
STATUS_LABELS = {
    "received": "Recebido",
    "in_progress": "Em análise",
    "answered": "Respondido",
    "closed": "Encerrado",
}
LIST_LIMIT = 200
NOT_FOUND = "Protocolo não encontrado."


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def answer_rows(
    engine: Any, department: str, form: str, answers: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """A submission's answers as the team reads them, in the form's order: each field's
    label (``x-civic-label`` or its question) and its value as shown to people (a
    choice's label, ``(35) 3435-2052``); the citizen's CPF last, when revealed."""
    from civic import formats
    from civic.cpf import formatted

    runner = engine.forms.get((department, form))
    fields = runner.fields if runner is not None else {}
    order = [name for name in fields if name in answers]
    order += [name for name in answers if name not in fields and name != "_citizen_cpf"]
    rows = []
    for name in order:
        value = answers[name]
        field = fields.get(name)
        if field is None:
            rows.append((name, _plain(value)))
            continue
        label = str(field.schema.get("x-civic-label") or field.title)
        shown = next(
            (
                text
                for const, text in field.options
                if const == value and type(const) is type(value)
            ),
            None,
        )
        if shown is None and field.format and isinstance(value, str):
            shown = formats.display(field.format, value)
        rows.append((label, shown if shown is not None else _plain(value)))
    if answers.get("_citizen_cpf"):
        rows.append(("CPF do cidadão", formatted(str(answers["_citizen_cpf"]))))
    return rows


def form_title(engine: Any, department: str, form: str) -> str:
    """A form's title (``Solicitação ao CAC``), or its name when it is not installed."""
    runner = engine.forms.get((department, form))
    return str(runner.schema.get("title") or form) if runner is not None else form


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return "—" if value is None else str(value)


def listing(console: Console, visitor: Visitor, query: Mapping[str, str]) -> dict[str, Any]:
    """Blocking: the protocols the filters of ``query`` select, among the departments
    the attendant sees."""
    from civic import protocols

    engine = console.engine
    visible = [d for d in engine.registry if visitor.can_see(d.slug)]
    department = query.get("departamento") or None
    status = query.get("situacao") or None
    since, until = parse_date(query.get("de")), parse_date(query.get("ate"))
    text = (query.get("texto") or "").strip()[:200] or None
    problems = []
    if department is not None and department not in {d.slug for d in visible}:
        problems.append("Departamento desconhecido.")
        department = None
    if status is not None and status not in protocols.STATUSES:
        problems.append("Situação desconhecida.")
        status = None
    if query.get("de") and since is None:
        problems.append("Data inicial inválida.")
    if query.get("ate") and until is None:
        problems.append("Data final inválida.")
    if since and until and since > until:
        problems.append("A data inicial é depois da final.")
        since = until = None
    if department is not None:
        departments: list[str] | None = [department]
    elif visitor.account.is_admin:
        departments = None
    else:
        departments = [d.slug for d in visible]
    found = (
        protocols.list_protocols(
            engine,
            departments=departments,
            status=status,
            since=since,
            until=until,
            text=text,
            limit=LIST_LIMIT,
        )
        if departments != []
        else []
    )
    return {
        "protocols": found,
        "form_titles": {p.protocol: form_title(engine, p.department, p.form) for p in found},
        "departments": visible,
        "statuses": protocols.STATUSES,
        "filters": {
            "departamento": department or "",
            "situacao": status or "",
            "de": since.isoformat() if since else "",
            "ate": until.isoformat() if until else "",
            "texto": text or "",
        },
        "error": " ".join(problems) or None,
        "limit": LIST_LIMIT,
    }


def detail(console: Console, visitor: Visitor, protocol: str) -> dict[str, Any]:
    """Blocking: one protocol's page; :class:`Refused` (404) when it does not exist or
    belongs to a department the attendant does not see."""
    from civic import protocols

    engine = console.engine
    try:
        summary, answers, events = protocols.protocol_detail(engine, protocol)
    except staff.NotFound:
        raise Refused(404, NOT_FOUND) from None
    if not visitor.can_see(summary.department):
        raise Refused(404, NOT_FOUND)
    department = engine.registry.get(summary.department)
    return {
        "form_title": form_title(engine, summary.department, summary.form),
        "summary": summary,
        "answers": answer_rows(engine, summary.department, summary.form, answers),
        "events": events,
        "department": department,
        # Reopening is offered too: choosing it is the explicit request it needs.
        "next_statuses": list(protocols.allowed_next(summary.status, reopen=True)),
        "reopening": summary.status in protocols.REOPENABLE,
        "revealed": None,
        "note": "",
        "internal_note": "",
    }


def routes(console: Console) -> list[Route]:
    """``/console/protocols`` and one protocol's page, status change and full data."""
    host = console.host

    async def index(request: Request, visitor: Visitor) -> Response:
        page = await host.call(listing, console, visitor, request.query_params)
        return console.render("protocols.html", {**page, "section": "protocols"}, visitor=visitor)

    async def show(request: Request, visitor: Visitor) -> Response:
        page = await host.call(detail, console, visitor, request.path_params["protocol"])
        notice = "Situação alterada." if request.query_params.get("feito") else None
        return console.render(
            "protocol.html",
            {**page, "section": "protocols", "notice": notice},
            visitor=visitor,
        )

    async def change(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        protocol = request.path_params["protocol"]
        page = await host.call(detail, console, visitor, protocol)
        status = form.get("status", "")
        note = form.get("note", "").strip() or None
        internal = form.get("internal_note", "").strip() or None
        context = {
            **page,
            "section": "protocols",
            "note": note or "",
            "internal_note": internal or "",
        }
        if status not in page["next_statuses"]:
            context["error"] = "Escolha uma das situações oferecidas."
            return console.render("protocol.html", context, status=400, visitor=visitor)
        try:
            await host.call(
                _set_status, console.engine, protocol, status, visitor.name, note, internal
            )
        except staff.StaffError as exc:
            context["error"] = f"Não foi possível alterar a situação: {explain(exc)}"
            return console.render("protocol.html", context, status=409, visitor=visitor)
        return redirect(f"/console/protocols/{page['summary'].protocol}?feito=1")

    async def reveal(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        protocol = request.path_params["protocol"]
        page = await host.call(detail, console, visitor, protocol)
        reason = form.get("reason", "").strip()
        context = {**page, "section": "protocols"}
        if not reason:
            context["error"] = "Diga por que precisa ver os dados completos: o motivo é registrado."
            return console.render("protocol.html", context, status=400, visitor=visitor)
        number = page["summary"].protocol
        data = await host.call(
            staff.reveal_submission, console.engine, number, visitor.name, reason
        )
        summary = page["summary"]
        context["revealed"] = answer_rows(console.engine, summary.department, summary.form, data)
        return console.render("protocol.html", context, visitor=visitor)

    base = "/console/protocols/{protocol:str}"
    return [
        Route("/console/protocols", console.page(index), methods=["GET"]),
        Route(base, console.page(show), methods=["GET"]),
        Route(f"{base}/status", console.action(change), methods=["POST"]),
        Route(f"{base}/reveal", console.action(reveal), methods=["POST"]),
    ]


def _set_status(
    engine: Any, protocol: str, status: str, agent: str, note: str | None, internal: str | None
) -> None:
    from civic import protocols

    protocols.set_status(
        engine, protocol, status, agent=agent, note=note, internal_note=internal, reopen=True
    )
