"""Route a message to a department by menu number, name or keywords.

The rules, in order:

1. A menu number, or a department's slug or name alone, chooses it.
2. Subject words decide: each department scores its own keywords (twice) and its topics'
   keywords (once), leaving out the :data:`GENERIC` words that say what kind of request it
   is ("reclamar", "segunda via", "agendar") rather than what it is about. "Segunda via
   do IPTU" is about the IPTU; "reclamar do posto de saúde" is about the health post.
3. Only when no subject word matched, the generic words score the same way.
4. One best department is chosen; a tie between several is returned as a tuple of slugs,
   in menu order, so civic asks which one ("Você quer falar com: 1. CAC 2. PROCON?").
   Nothing matched: ``None`` (civic shows the menu).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from civic import hookimpl
from civic.reading import Reading
from civic.text import contains_keyword, fold
from civic.values import Department

if TYPE_CHECKING:
    from civic.config import Config

#: Words that say what kind of request a message is, not what it is about: they decide
#: only when nothing else does (any department may list them).
GENERIC = frozenset(
    fold(word)
    for word in (
        "reclamacao", "reclamar", "reclamaçao", "denuncia", "denunciar", "queixa",
        "registrar", "solicitacao", "solicitar", "pedido", "pedir", "informacao",
        "informacoes", "duvida", "agendar", "agendamento", "marcar", "atendimento",
        "segunda via", "2a via", "2 via", "documento", "documentos", "prazo", "horario",
        "endereco", "telefone", "contato", "local", "presencial", "verificar", "situacao",
        "cancelar", "devolver", "problema",
    )
)  # fmt: skip


@hookimpl(trylast=True)
def route_message(
    departments: Sequence[Department], message: Reading
) -> str | tuple[str, ...] | None:
    folded = message.folded
    if not folded:
        return None
    if folded.isdigit():
        number = int(folded)
        return departments[number - 1].slug if 1 <= number <= len(departments) else None
    for department in departments:
        if folded in (fold(department.slug), fold(department.name)):
            return department.slug
    for generic in (False, True):
        scores = {d.slug: score(message, d, generic=generic) for d in departments}
        best = max(scores.values(), default=0)
        if best:
            winners = tuple(slug for slug, points in scores.items() if points == best)
            return winners[0] if len(winners) == 1 else winners
    return None


def score(message: Reading, department: Department, *, generic: bool) -> int:
    """Points of ``department`` for ``message``: its own keywords (and name) count twice,
    its topics' keywords once more (a word in both counts three times); only
    :data:`GENERIC` words when ``generic``, else only the others. Topics that hand over
    to a person are left out: every department has one."""
    return sum(matched(message, department, generic=generic).values())


def words(department: Department) -> dict[str, int]:
    """The folded words that route to ``department`` and the points each is worth (see
    :func:`score`)."""
    own = {fold(word) for word in (department.slug, department.name, *department.keywords)}
    topics = {
        fold(word) for topic in department.topics if not topic.handover for word in topic.keywords
    }
    return {word: 2 * (word in own) + (word in topics) for word in own | topics if word}


def matched(message: Reading, department: Department, *, generic: bool) -> dict[str, int]:
    """The words of ``department`` found in ``message`` and their points: only
    :data:`GENERIC` words when ``generic``, else only the others (``civic route`` shows
    them)."""
    return {
        word: points
        for word, points in words(department).items()
        if (word in GENERIC) == generic and contains_keyword(message.folded, word)
    }


def routing_departments(registry: Iterable[Department], config: Config) -> list[Department]:
    """The enabled departments as routing sees them: each with the extra ``keywords``
    of its city section (``[departments.cac] keywords = [...]``)."""
    departments = []
    for department in registry:
        extra = config.for_department(department.slug).settings.get("keywords")
        if isinstance(extra, list | tuple) and extra:
            words = tuple(str(word) for word in extra)
            department = attrs.evolve(department, keywords=department.keywords + words)
        departments.append(department)
    return departments
