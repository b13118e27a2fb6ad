"""Why a message goes to a department: ``civic route "texto"``.

The decision is the real one: the ``route_message`` hook, asked as the engine asks it
(the city's enabled departments, with their localised names and the extra ``keywords``
of their ``[departments.<slug>]`` sections). The scores come from the built-in routing
plugin's own functions (:func:`civic.default_plugins.routing.matched`), so the
explanation cannot drift from what routes. See :mod:`civic.default_plugins.routing` for
the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from civic.default_plugins import routing
from civic.plugins import call_first
from civic.reading import Reading, read
from civic.text import fold
from civic.values import Conversation, Department

if TYPE_CHECKING:
    from civic.config import Config
    from civic.departments import Registry


@attrs.frozen
class Score:
    """One department's points for a message: the words found and what each is worth
    (own keywords and name 2, topic keywords 1, both 3), subject and generic apart."""

    slug: str
    name: str
    subject: dict[str, int]
    generic: dict[str, int]

    @property
    def subject_points(self) -> int:
        return sum(self.subject.values())

    @property
    def generic_points(self) -> int:
        return sum(self.generic.values())


@attrs.frozen
class Explanation:
    """What ``route_message`` decided for ``text`` and why.

    :param decision: the slug chosen; several slugs on a tie (civic asks which); ``None``
        when nothing decided (civic shows the menu).
    :param decided_by: the plugin whose ``route_message`` answered (``routing`` is the
        built-in one), or ``None``.
    :param rule: which rule decided: ``menu number``, ``name``, ``subject words``,
        ``generic words``, ``plugin`` (another plugin's routing) or ``nothing matched``.
    :param scores: each department's score, in menu order.
    """

    text: str
    decision: str | tuple[str, ...] | None
    decided_by: str | None
    rule: str
    scores: tuple[Score, ...]

    @property
    def tie(self) -> bool:
        return isinstance(self.decision, tuple)

    def as_dict(self) -> dict[str, Any]:
        """The explanation as JSON-compatible values (``civic route --json``)."""
        decision = list(self.decision) if isinstance(self.decision, tuple) else self.decision
        return {
            "text": self.text,
            "decision": decision,
            "tie": self.tie,
            "rule": self.rule,
            "decided_by": self.decided_by,
            "departments": [
                {
                    "slug": score.slug,
                    "name": score.name,
                    "subject": {"points": score.subject_points, "words": score.subject},
                    "generic": {"points": score.generic_points, "words": score.generic},
                }
                for score in self.scores
            ],
        }


def city_departments(manager: pluggy.PluginManager, config: Config) -> Registry:
    """The city's departments as its engine has them: enabled, in menu order, with the
    city's texts (raises :class:`civic.config.ConfigError` on unusable overrides)."""
    from civic import departments
    from civic.engine import city_texts

    registry = departments.collect(manager, config.departments)
    texts = city_texts(config, manager, registry)
    registry.departments = [departments.localise(d, texts) for d in registry]
    return registry


def explain(
    text: str,
    departments: Sequence[Department],
    manager: pluggy.PluginManager,
    now: dt.datetime,
) -> Explanation:
    """Route ``text``, sent at ``now``, among ``departments`` (as
    :func:`civic.default_plugins.routing.routing_departments` gives them) with
    ``manager``'s plugins, and say why."""
    message = read(text)
    conversation = Conversation(
        id=0,
        channel="route",
        address="",
        state="choosing_department",
        department=None,
        pinned_department=None,
        citizen_id=None,
        citizen_name=None,
        opened_at=now,
    )
    plugin, result = call_first(
        "route_message",
        manager,
        text=message.text,
        departments=list(departments),
        conversation=conversation,
        message=message,
    )
    decision = _known(result, departments)
    scores = tuple(
        Score(
            slug=department.slug,
            name=department.name,
            subject=routing.matched(message, department, generic=False),
            generic=routing.matched(message, department, generic=True),
        )
        for department in departments
    )
    rule = _rule(message, decision, plugin, departments, scores)
    return Explanation(message.text, decision, plugin if decision else None, rule, scores)


def _known(result: object, departments: Sequence[Department]) -> str | tuple[str, ...] | None:
    """The hook's answer as the engine takes it: unknown slugs dropped, a tie of one is
    that one."""
    slugs = {department.slug for department in departments}
    if isinstance(result, tuple | list):
        known = tuple(slug for slug in result if slug in slugs)
        return known[0] if len(known) == 1 else (known or None)
    return result if isinstance(result, str) and result in slugs else None


def _rule(
    message: Reading,
    decision: str | tuple[str, ...] | None,
    plugin: str | None,
    departments: Sequence[Department],
    scores: Sequence[Score],
) -> str:
    if decision is None:
        return "nothing matched"
    if plugin != "routing":
        return "plugin"
    if message.folded.isdigit():
        return "menu number"
    chosen = next((d for d in departments if d.slug == decision), None)
    if chosen is not None and message.folded in (fold(chosen.slug), fold(chosen.name)):
        return "name"
    if any(score.subject_points for score in scores):
        return "subject words"
    return "generic words"


def render(explanation: Explanation) -> str:
    """The explanation as ``civic route`` prints it."""
    decision = explanation.decision
    if decision is None:
        outcome = "no department: civic shows the menu"
    elif isinstance(decision, tuple):
        outcome = f"a tie between {', '.join(decision)}: civic asks which"
    else:
        outcome = decision
    by = f" (plugin {explanation.decided_by})" if explanation.rule == "plugin" else ""
    lines = [f"{explanation.text!r} -> {outcome}", f"decided by: {explanation.rule}{by}"]
    width = max((len(score.slug) for score in explanation.scores), default=0)
    for score in explanation.scores:
        parts = [f"subject {score.subject_points}{_words(score.subject)}"]
        parts.append(f"generic {score.generic_points}{_words(score.generic)}")
        lines.append(f"  {score.slug:<{width}}  " + "  ".join(parts))
    lines.append(
        "(own keywords and name count 2, topic keywords 1; generic words decide only "
        "when no subject word matched)"
    )
    return "\n".join(lines)


def _words(found: dict[str, int]) -> str:
    if not found:
        return ""
    return " (" + ", ".join(f"{word} +{points}" for word, points in sorted(found.items())) + ")"
