"""The record of processing operations (LGPD, Lei 13.709/2018, art. 37): what personal
data civic handles for the city, why, on which legal basis, and for how long.

It is built from what is installed, so it cannot drift from the code: the core's own
operations (:data:`CORE_PROCESSING`: identification, the message log, the closing
survey) and each enabled department's :attr:`civic.values.Department.processing`, with
the retention periods the city set in ``civic.toml`` beside what each declares. ``civic
privacy register`` prints it as Markdown (to publish; ``[privacy] register_url`` is
where the city publishes it, and the privacy notice links there) or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from civic.config import RETENTION_KINDS, Config, RetentionPeriods
from civic.values import Processing

if TYPE_CHECKING:
    from civic.departments import Registry

#: What the core itself does with personal data, whatever departments are installed.
CORE_PROCESSING: tuple[Processing, ...] = (
    Processing(
        activity="Identificação do cidadão",
        purpose="Saber quem pede o atendimento, para responder a pessoa certa e acompanhar "
        "seus protocolos; reconhecer o cidadão que volta",
        legal_basis="LGPD art. 7º, III (execução de políticas públicas), com art. 23",
        data=("nome", "CPF (guardado cifrado, com resumo por chave para reconhecimento)"),
        retention="Até o fim do prazo de mensagens mais longo da cidade depois do último "
        "contato; depois o registro fica sem nome nem CPF",
    ),
    Processing(
        activity="Registro das mensagens",
        purpose="Manter a conversa para o atendimento continuar (robô e atendentes) e "
        "prestar contas do que foi dito ao cidadão",
        legal_basis="LGPD art. 7º, III (execução de políticas públicas), com art. 23",
        data=("telefone ou endereço do canal", "textos das mensagens", "data e hora"),
        retention="Pelo prazo de mensagens da cidade depois do encerramento da conversa; "
        "depois os textos e o telefone são apagados",
    ),
    Processing(
        activity="Pesquisa de satisfação",
        purpose="Avaliar o atendimento e publicar os resultados (Lei 13.460/2017, art. 23)",
        legal_basis="LGPD art. 7º, II (obrigação legal: Lei 13.460/2017, art. 23) e III",
        data=("nota", "respostas às perguntas da cidade", "comentário"),
        retention="Comentário pelo prazo de avaliações da cidade; a nota fica como "
        "estatística, sem ligação com a pessoa",
    ),
)

#: How the record names each kind of period.
_KIND_LABELS = {"messages": "mensagens", "submissions": "protocolos", "ratings": "avaliações"}


def record(config: Config, registry: Registry) -> dict[str, Any]:
    """The record as plain data (what ``--format json`` prints)."""
    retention = config.retention
    operations = [_entry(p, None, retention.city) for p in CORE_PROCESSING]
    for department in registry:
        operations.append(
            _entry(department.processing, department, retention.periods(department.slug))
        )
    privacy = config.privacy
    return {
        "controller": privacy.controller or config.city,
        "contact": privacy.contact or None,
        "policy_url": privacy.policy_url or None,
        "register_url": privacy.register_url or None,
        "operations": operations,
    }


def _entry(
    processing: Processing | None, department: Any, periods: RetentionPeriods
) -> dict[str, Any]:
    configured = {f"{kind}_days": periods.days(kind) for kind in RETENTION_KINDS}
    if processing is None:
        return {
            "activity": department.name,
            "department": department.slug,
            "declared": False,
            "configured_retention": configured,
        }
    return {
        "activity": processing.activity or (department.name if department else ""),
        "department": department.slug if department is not None else None,
        "declared": True,
        "purpose": processing.purpose,
        "legal_basis": processing.legal_basis,
        "data": list(processing.data),
        "retention": processing.retention,
        "configured_retention": configured,
        "sharing": processing.sharing or None,
    }


def markdown(data: Mapping[str, Any]) -> str:
    """The record as Markdown, in Portuguese, to publish."""
    lines = [
        "# Registro das operações de tratamento de dados pessoais",
        "",
        "Lei 13.709/2018 (LGPD), art. 37.",
        "",
        f"- Controlador: {data['controller']}",
    ]
    if data["contact"]:
        lines.append(f"- Encarregado (contato): {data['contact']}")
    if data["policy_url"]:
        lines.append(f"- Política de privacidade: {data['policy_url']}")
    for operation in data["operations"]:
        lines += ["", f"## {operation['activity']}", ""]
        if operation["department"]:
            lines.append(f"- Setor: `{operation['department']}`")
        if not operation["declared"]:
            lines.append("- O plugin deste setor não declarou o tratamento que faz.")
        else:
            lines += [
                f"- Finalidade: {operation['purpose']}",
                f"- Base legal: {operation['legal_basis']}",
                f"- Dados: {', '.join(operation['data'])}",
                f"- Retenção: {operation['retention']}",
                f"- Compartilhamento: {operation['sharing'] or 'nenhum'}",
            ]
        lines.append(f"- Prazos configurados: {_periods(operation['configured_retention'])}")
    return "\n".join(lines) + "\n"


def _periods(configured: Mapping[str, int | None]) -> str:
    return "; ".join(
        f"{_KIND_LABELS[kind]}: "
        + (f"{days} dias" if (days := configured[f"{kind}_days"]) else "sem prazo (mantidos)")
        for kind in RETENTION_KINDS
    )
