"""Route a message to a department by menu number, name or keywords."""

from __future__ import annotations

from collections.abc import Sequence

from civic import hookimpl
from civic.reading import Reading
from civic.text import contains_keyword, fold
from civic.values import Department


@hookimpl(trylast=True)
def route_message(departments: Sequence[Department], message: Reading) -> str | None:
    folded = message.folded
    if not folded:
        return None
    if folded.isdigit():
        number = int(folded)
        return departments[number - 1].slug if 1 <= number <= len(departments) else None
    for department in departments:
        if folded in (fold(department.slug), fold(department.name)):
            return department.slug
    scores = {department.slug: _score(folded, department) for department in departments}
    best = max(scores.values(), default=0)
    winners = [slug for slug, score in scores.items() if score == best]
    # An ambiguous message (a tie, or nothing matched) gets the menu.
    return winners[0] if best and len(winners) == 1 else None


def _score(folded: str, department: Department) -> int:
    """How many of the department's words, and of its topics' words, the message holds.

    Topics that hand over to a person are left out: every department has one.
    """
    words = {department.slug, department.name, *department.keywords}
    for topic in department.topics:
        if not topic.handover:
            words.update(topic.keywords)
    return sum(contains_keyword(folded, word) for word in words)
