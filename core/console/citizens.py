"""``/console/citizens``: a citizen's rights by CPF (LGPD art. 18), for admins only.

An admin looks a citizen up by CPF (sent in a form, never in a URL, so it stays out of
access logs), sees what is held (CPF masked), downloads the export and forgets the
citizen, each through :mod:`civic.rights` and audited with the admin's name and reason,
exactly as ``civic citizens`` does. Every form carries the session's CSRF token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civic.console.web import Console, Refused, Visitor, secured

ADMINS_ONLY = "Só administradores atendem pedidos de titulares de dados."
#: The rights functions' refusals, as the console says them.
_SAID = (
    ("InvalidCpf", "CPF inválido: confira os números."),
    (
        "UnknownCitizen",
        "Nenhum cidadão com este CPF (nunca se identificou, ou já foi anonimizado).",
    ),
    ("StillServed", "O cidadão tem conversa aberta: encerre-a antes de anonimizar."),
)


def _said(error: Exception) -> str:
    for kind, sentence in _SAID:
        if type(error).__name__ == kind:
            return sentence
    if "--reason" in str(error):
        return "Diga o motivo: ele fica registrado na auditoria."
    return "Não foi possível atender o pedido."


def routes(console: Console) -> list[Route]:
    """The look-up page (GET), the look-up, the export and the forgetting (POST)."""
    from civic import rights

    host = console.host
    engine = console.engine

    def admin(visitor: Visitor) -> None:
        if not visitor.account.is_admin:
            raise Refused(403, ADMINS_ONLY)

    def page(visitor: Visitor, status: int = 200, **context: Any) -> Response:
        values: dict[str, Any] = {"section": "citizens", "found": None, "typed": "", **context}
        return console.render("citizens.html", values, status=status, visitor=visitor)

    async def index(request: Request, visitor: Visitor) -> Response:
        admin(visitor)
        return page(visitor)

    async def look_up(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        admin(visitor)
        typed = form.get("cpf", "")
        try:
            found = await host.call(
                rights.summary, engine, typed, by=visitor.name, reason=form.get("reason") or None
            )
        except rights.RightsError as exc:
            return page(visitor, 400, error=_said(exc))
        return page(visitor, found=found, typed=typed)

    async def export(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        admin(visitor)
        try:
            found = await host.call(
                rights.export,
                engine,
                form.get("cpf", ""),
                by=visitor.name,
                reason=form.get("reason"),
            )
        except rights.RightsError as exc:
            return page(visitor, 400, error=_said(exc), typed=form.get("cpf", ""))
        body = json.dumps(found, indent=2, ensure_ascii=False) + "\n"
        name = f"cidadao-{found['citizen']['id']}.json"
        return secured(
            Response(
                body,
                media_type="application/json; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        )

    async def forget(request: Request, visitor: Visitor, form: Mapping[str, str]) -> Response:
        admin(visitor)
        if form.get("confirm") != "yes":
            return page(
                visitor,
                400,
                error="Marque a confirmação: anonimizar não pode ser desfeito.",
                typed=form.get("cpf", ""),
            )
        try:
            done = await host.call(
                rights.forget,
                engine,
                form.get("cpf", ""),
                by=visitor.name,
                reason=form.get("reason"),
            )
        except rights.RightsError as exc:
            return page(visitor, 400, error=_said(exc), typed=form.get("cpf", ""))
        notice = (
            f"Cidadão {done.citizen_id} anonimizado: {done.conversations} conversa(s), "
            f"{done.messages} mensagem(ns), {done.submissions} protocolo(s)."
        )
        return page(visitor, notice=notice)

    return [
        Route("/console/citizens", console.page(index), methods=["GET"]),
        Route("/console/citizens", console.action(look_up), methods=["POST"]),
        Route("/console/citizens/export", console.action(export), methods=["POST"]),
        Route("/console/citizens/forget", console.action(forget), methods=["POST"]),
    ]
