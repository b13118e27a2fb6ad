"""Canned responses: every attendant reads those of their departments; admins edit them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civic import staff
from civic.console.web import Console, Refused, Visitor, explain, redirect

ADMINS_ONLY = "Só administradores editam as respostas prontas."
DONE = {"salva": "Resposta pronta salva.", "apagada": "Resposta pronta apagada."}


def listing(console: Console, visitor: Visitor) -> dict[str, Any]:
    """Blocking: the canned responses of each department the attendant sees."""
    from civic import canned

    departments = [d for d in console.engine.registry if visitor.can_see(d.slug)]
    return {
        "departments": [(d, canned.list_canned(console.engine, d.slug)) for d in departments],
        "editable": visitor.account.is_admin,
    }


def routes(console: Console) -> list[Route]:
    """``/console/canned``: the list (GET), save (POST) and delete."""
    from civic import canned

    host = console.host

    async def index(request: Request, visitor: Visitor) -> Response:
        page = await host.call(listing, console, visitor)
        notice = DONE.get(request.query_params.get("feito", ""))
        return console.render(
            "canned.html",
            {**page, "section": "canned", "notice": notice, "draft": None},
            visitor=visitor,
        )

    async def again(visitor: Visitor, error: str, draft: Mapping[str, str]) -> Response:
        page = await host.call(listing, console, visitor)
        return console.render(
            "canned.html",
            {**page, "section": "canned", "error": error, "draft": dict(draft)},
            status=400,
            visitor=visitor,
        )

    async def save(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        if not visitor.account.is_admin:
            raise Refused(403, ADMINS_ONLY)
        department = form.get("department", "")
        if console.engine.registry.get(department) is None:
            return await again(visitor, "Escolha um departamento.", form)
        raw_id = form.get("id", "").strip()
        if raw_id and not raw_id.isdigit():
            raise Refused(404)
        try:
            await host.call(
                _save,
                console.engine,
                department,
                form.get("title", ""),
                form.get("text", ""),
                visitor.name,
                int(raw_id) if raw_id else None,
            )
        except staff.NotFound:
            raise Refused(404, "Resposta pronta não encontrada.") from None
        except staff.StaffError as exc:
            return await again(visitor, f"Não foi possível salvar: {explain(exc)}", form)
        return redirect("/console/canned?feito=salva")

    async def delete(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        if not visitor.account.is_admin:
            raise Refused(403, ADMINS_ONLY)
        try:
            await host.call(
                canned.delete_canned, console.engine, request.path_params["canned_id"], visitor.name
            )
        except staff.NotFound:
            raise Refused(404, "Resposta pronta não encontrada.") from None
        return redirect("/console/canned?feito=apagada")

    return [
        Route("/console/canned", console.page(index), methods=["GET"]),
        Route("/console/canned", console.action(save), methods=["POST"]),
        Route("/console/canned/{canned_id:int}/delete", console.action(delete), methods=["POST"]),
    ]


def _save(
    engine: Any, department: str, title: str, text: str, agent: str, canned_id: int | None
) -> None:
    from civic import canned

    canned.save_canned(
        engine, department=department, title=title, text=text, agent=agent, id=canned_id
    )
