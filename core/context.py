"""What a conversation remembers between messages, as a typed value.

The engine keeps it in the conversation's ``context`` column as JSON. Every field has a
default, so a context written by an older civic (or an empty one) loads, and unknown keys
are ignored rather than trusted.
"""

from __future__ import annotations

import json
from typing import Any

import attrs


@attrs.define
class FormProgress:
    """A form being filled: its name and the form runner's own progress."""

    name: str
    progress: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class SurveyProgress:
    """Where the closing survey is: ``score``, ``questions`` or ``comment``."""

    step: str = "score"
    attempts: int = 0
    progress: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class Context:
    """The conversation's memory.

    :param pending_name: a name typed before the CPF, kept until the CPF arrives.
    :param pending_cpf: a CPF typed before the name, **encrypted** (never in clear).
    :param after_identify: the department to enter once the citizen is identified (when
        the city asks for the CPF only where a department needs it).
    :param form: the form being filled, if any.
    :param held_form: a form left for a person: its answers so far, for the attendant.
    :param survey: the closing survey's progress, while rating.
    :param protocols: the protocol numbers given in this conversation.
    :param waiting_told: the citizen was told they are waiting for a person.
    :param identified: the citizen identified themselves in this conversation.
    :param request: the citizen's own words kept until a department acts on them (CPF-
        looking numbers masked; see :mod:`civic.request`): what the identification
        message said besides the name and CPF, or a request typed before identifying; a
        sentence that fit several departments, while civic asks which; a description
        typed in a department, for the form that starts next.
    """

    pending_name: str | None = None
    pending_cpf: str | None = None
    after_identify: str | None = None
    form: FormProgress | None = None
    held_form: FormProgress | None = None
    survey: SurveyProgress | None = None
    protocols: list[str] = attrs.field(factory=list)
    waiting_told: bool = False
    identified: bool = False
    request: str | None = None

    def dump(self) -> str:
        """The JSON stored in the conversation row (empty fields left out)."""
        data = attrs.asdict(self, filter=lambda _, value: value not in (None, [], False, {}))
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def load(cls, raw: str | None) -> Context:
        """Read a stored context; whatever cannot be read is left at its default."""
        try:
            data = json.loads(raw or "{}")
        except (TypeError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(
            pending_name=_text(data.get("pending_name")),
            pending_cpf=_text(data.get("pending_cpf")),
            after_identify=_text(data.get("after_identify")),
            form=_form(data.get("form")),
            held_form=_form(data.get("held_form")),
            survey=_survey(data.get("survey")),
            protocols=[p for p in data.get("protocols") or [] if isinstance(p, str)],
            waiting_told=bool(data.get("waiting_told")),
            identified=bool(data.get("identified")),
            request=_text(data.get("request")),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _form(value: Any) -> FormProgress | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    progress = value.get("progress")
    return FormProgress(value["name"], progress if isinstance(progress, dict) else {})


def _survey(value: Any) -> SurveyProgress | None:
    if not isinstance(value, dict):
        return None
    step = value.get("step")
    attempts = value.get("attempts")
    progress = value.get("progress")
    return SurveyProgress(
        step=step if step in ("score", "questions", "comment") else "score",
        attempts=attempts if isinstance(attempts, int) else 0,
        progress=progress if isinstance(progress, dict) else {},
    )
