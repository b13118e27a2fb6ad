"""Forms: a department's JSON Schema ``object``, asked as a conversation.

A form is a JSON Schema (Draft 2020-12) ``object`` restricted by
``civic/schemas/form.schema.json`` (see :func:`form_errors`). :class:`FormRunner` asks
its ``properties`` one at a time, in order: the ``title`` is the question and the
``description`` a hint. Each answer is converted from what the citizen typed (numbers in
Portuguese, ``sim``/``não``, a choice by number or label, a CPF with its punctuation...),
normalised (:mod:`civic.formats`) and validated by the field's own schema; a refused
answer gets a Portuguese sentence saying what is wrong, and the question again.

Choices are declared with ``oneOf`` of ``{"const": value, "title": label}`` (or a plain
``enum``) and shown as numbered :class:`~civic.values.Choice`\\ s. Booleans are a choice
between *Sim* and *Não*.

Conditional fields. A property named in the ``required`` list of a ``then`` (or ``else``)
of an ``if`` at the form's top level (or in one of its ``allOf`` items) is *governed* by
that condition: it is asked only while its branch is active, that is while the ``if``
schema holds (for ``else``: does not hold) on the answers given so far, exactly as the
final validation would judge it. Put the fields a condition looks at before the fields
it governs. When a correction switches a branch off, the answers it governed are
dropped; when it switches one on, the newly required fields are asked before the
summary. ``dependentRequired`` never hides a field: it only makes it required (not
skippable) once the field it depends on has an answer. Top-level ``required`` fields
are always asked.

Optional fields can be skipped with *pular* (their ``default``, if any, is stored), or
by saying the citizen does not know or have the answer (``words.dont_know``: "não sei",
"não tenho nota", "não lembro não"...); on a required field such an answer is never
stored: the runner says the answer is needed, gives the field's ``x-civic-dont-know``
hint if any, offers a person and asks again. Dates may be typed the short way ("20/11",
"ontem", "dia 20", "20 de novembro"; see :func:`civic.formats.read_date`) where the
field's range tells the year, and are confirmed back ("Entendi 20/11/2026."). At any
point *cancelar* cancels; *atendente* hands over to a human whenever it cannot be a
genuine answer (any question but a free-text one, the summary, and a free-text question
after ``max_failures`` refused answers, when a human is offered). Before submitting, the
runner shows a numbered summary, each answer under the field's short label
(:attr:`Field.label`), and asks to confirm, correct or cancel; the screen asking which
answer to correct says that *0* goes back to the summary.

Every date is judged by the ``today`` the caller passes with the message (the city's
date of it), never by the clock.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from civic import formats
from civic.text import PARSE_LIMIT, contains_keyword, fold, strip_invisible
from civic.texts import Texts
from civic.values import Choice, Reply
from civic.words import wants_person

if TYPE_CHECKING:  # jsonschema is imported where forms are checked or run, not at start-up
    import jsonschema
    from jsonschema.exceptions import ValidationError

log = logging.getLogger(__name__)

#: Longest free-text answer kept; longer messages are cut here.
ANSWER_LIMIT = 10_000
#: Longest value shown in the summary.
SUMMARY_VALUE_LIMIT = 300

ASKING, SUBMITTED, CANCELLED, HANDOVER = "asking", "submitted", "cancelled", "handover"

#: A per-field warning: ``warn(value, answers)`` or ``warn(value, answers, today)``
#: returns a sentence to show, or ``None``; ``today`` is the city's date of the message.
#: A warning with a parameter named ``texts`` also gets the city's texts.
FieldWarning = Callable[..., str | None]

#: The longest answer that still only says "não sei" ("não sei o nome da loja").
DONT_KNOW_WORDS = 6
#: A title this long or shorter that is not a question may stand for the field's label.
LABEL_LIMIT = 40


@attrs.frozen
class FormStep:
    """What the runner did with one message.

    :param status: ``"asking"`` (the form goes on), ``"submitted"`` (``data`` holds the
        validated, normalised answers; the engine announces the protocol, so ``replies``
        is empty), ``"cancelled"`` or ``"handover"`` (the citizen asked for a human).
    :param progress: JSON-serialisable state to store and pass back to :meth:`FormRunner.step`.
    :param replies: what to send to the citizen.
    :param data: the answers, when ``status == "submitted"``.
    """

    status: str
    progress: dict[str, Any]
    replies: tuple[Reply, ...]
    data: dict[str, Any] | None = None


def load_form(package: str, filename: str) -> dict[str, Any]:
    """Read a form shipped as package data: ``load_form(__name__, "reclamacao.json")``."""
    source = resources.files(package).joinpath(filename)
    form: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return form


# -- the form meta-schema -------------------------------------------------------------


@cache
def form_meta_schema() -> dict[str, Any]:
    """``civic/schemas/form.schema.json``: what a civic form may contain."""
    source = resources.files("civic.schemas").joinpath("form.schema.json")
    meta: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return meta


def form_errors(schema: Mapping[str, Any], *, formats: Iterable[str] | None = None) -> list[str]:
    """Why ``schema`` is not a usable civic form, as English sentences with JSON paths.

    Checks it against the civic meta-schema, against the Draft 2020-12 meta-schema, and
    that every name in ``required``, ``then``/``else`` and ``dependentRequired`` is a
    property. With ``formats`` (the registered format names), unknown formats are
    reported too. Returns ``[]`` when the form is fine.
    """
    if not isinstance(schema, Mapping):
        return ["$: a form must be a JSON object"]
    known = None if formats is None else frozenset(formats)
    key = _json_key(schema)
    if key is None:  # not plain JSON (a tuple, a non-string key...): check it as it is
        return _form_errors(schema, known)
    return list(_form_errors_of_json(key, known))


def _json_key(schema: Mapping[str, Any]) -> str | None:
    """``schema`` as JSON text when that text gives back an equal value, else ``None``."""
    try:
        key = json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return key if json.loads(key) == schema else None


@lru_cache(maxsize=512)
def _form_errors_of_json(key: str, formats: frozenset[str] | None) -> tuple[str, ...]:
    """:func:`form_errors` of a form given as JSON text: every engine checks the same
    department forms, so each is checked against the meta-schemas once per process."""
    return tuple(_form_errors(json.loads(key), formats))


@cache
def _meta_validators() -> tuple[jsonschema.Draft202012Validator, ...]:
    """Validators for the civic form meta-schema and the Draft 2020-12 meta-schema."""
    import jsonschema

    return (
        jsonschema.Draft202012Validator(
            form_meta_schema(), format_checker=jsonschema.FormatChecker()
        ),
        jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA),
    )


def _form_errors(schema: Mapping[str, Any], formats: frozenset[str] | None) -> list[str]:
    errors = [
        f"{error.json_path}: {error.message}"
        for validator in _meta_validators()
        for error in sorted(validator.iter_errors(schema), key=lambda e: list(e.path))
    ]
    if errors:
        return list(dict.fromkeys(errors))
    return _name_errors(schema) + _format_errors(schema, formats) + _range_errors(schema)


def _name_errors(schema: Mapping[str, Any]) -> list[str]:
    """Names used by ``required``, conditionals and ``dependentRequired`` that are not
    properties of the form."""
    names = set(schema["properties"])
    uses: list[tuple[str, str]] = [
        (f"$.required[{i}]", name) for i, name in enumerate(schema.get("required", []))
    ]
    for path, condition in _conditions(schema):
        for branch in ("then", "else"):
            for i, name in enumerate(condition.get(branch, {}).get("required", [])):
                uses.append((f"{path}.{branch}.required[{i}]", name))
    for key, needed in schema.get("dependentRequired", {}).items():
        uses.append((f"$.dependentRequired.{key}", key))
        uses.extend((f"$.dependentRequired.{key}[{i}]", name) for i, name in enumerate(needed))
    return [
        f"{path}: {name!r} is not one of the form's properties"
        for path, name in uses
        if name not in names
    ]


def _range_errors(schema: Mapping[str, Any]) -> list[str]:
    """Fields no answer can satisfy (``minLength`` above ``maxLength``...): a citizen
    would be refused forever."""
    errors = []
    for name, prop in schema["properties"].items():
        for low, high in (("minLength", "maxLength"), ("minimum", "maximum")):
            if low in prop and high in prop and prop[low] > prop[high]:
                errors.append(
                    f"$.properties.{name}: {low} {prop[low]} is above {high} {prop[high]}: "
                    "no answer can be accepted"
                )
    return errors


def _format_errors(schema: Mapping[str, Any], known: Iterable[str] | None) -> list[str]:
    if known is None:
        return []
    known = set(known)
    return [
        f"$.properties.{name}.format: unknown format {prop['format']!r}"
        for name, prop in schema["properties"].items()
        if "format" in prop and prop["format"] not in known
    ]


def _conditions(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The ``if``/``then``/``else`` of the form and of each of its ``allOf`` items."""
    if "if" in schema:
        yield "$", schema
    for i, item in enumerate(schema.get("allOf", [])):
        if isinstance(item, Mapping) and "if" in item:
            yield f"$.allOf[{i}]", item


# -- format checkers ------------------------------------------------------------------


def build_format_checker(manager: pluggy.PluginManager) -> jsonschema.FormatChecker:
    """A format checker with jsonschema's formats and every ``register_format_checkers``
    registration.

    Plugins are asked in the reverse of pluggy's calling order, so an installed plugin
    (or a ``tryfirst`` one) registers after the built-in defaults and its checker
    replaces theirs. A plugin that raises is logged and skipped; a checker that raises
    counts as "does not conform".
    """
    import jsonschema

    checker = jsonschema.FormatChecker()

    def register(name: str, check: Callable[[Any], bool]) -> None:
        checker.checks(name)(_never_raising(name, check))

    hook = manager.hook.register_format_checkers
    everyone = [plugin for _, plugin in manager.list_name_plugin()]
    for impl in hook.get_hookimpls():
        others = [plugin for plugin in everyone if plugin is not impl.plugin]
        try:
            manager.subset_hook_caller("register_format_checkers", others)(register=register)
        except Exception:
            log.exception("plugin %s raised in register_format_checkers", impl.plugin_name)
    return checker


def _never_raising(name: str, check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def run(value: Any) -> bool:
        try:
            return bool(check(value))
        except Exception:
            log.exception("format checker %r raised on a value", name)
            return False

    return run


# -- fields ---------------------------------------------------------------------------


class Refused(Exception):
    """An answer the field does not accept; the message is for the citizen."""


@attrs.frozen
class Field:
    """One property of a form, with what the runner needs to ask it."""

    name: str
    schema: Mapping[str, Any]
    validator: jsonschema.Draft202012Validator
    options: tuple[tuple[Any, str], ...]

    @property
    def title(self) -> str:
        return str(self.schema.get("title") or self.name)

    @property
    def label(self) -> str:
        """A short name for the summary and corrections: ``x-civic-label``; without it,
        the title when it is short and not a question ("E-mail"), else the field's name
        (``data_compra``: "Data compra"), never the question itself."""
        label = self.schema.get("x-civic-label")
        if isinstance(label, str) and label.strip():
            return label.strip()
        title = self.title.strip()
        if title and len(title) <= LABEL_LIMIT and not title.endswith("?"):
            return title
        name = self.name.replace("_", " ").strip() or self.name
        return name[:1].upper() + name[1:]

    @property
    def type(self) -> str | None:
        kind = self.schema.get("type")
        if isinstance(kind, list):  # JSON Schema allows a list; a civic form names one type
            kind = kind[0] if kind else None
        return kind if isinstance(kind, str) else None

    @property
    def format(self) -> str | None:
        return self.schema.get("format")

    @property
    def free_text(self) -> bool:
        """Whether any text is a plausible answer (so command words cannot be told apart)."""
        return not self.options and self.format is None and self.type in (None, "string")


def _options(schema: Mapping[str, Any], texts: Texts) -> tuple[tuple[Any, str], ...]:
    """The ``(value, label)`` choices of a field: ``oneOf`` consts, ``enum``, or yes/no."""
    if "oneOf" in schema and all(
        isinstance(item, Mapping) and "const" in item for item in schema["oneOf"]
    ):
        return tuple(
            (item["const"], str(item.get("title", item["const"]))) for item in schema["oneOf"]
        )
    if "enum" in schema:
        return tuple((value, str(value)) for value in schema["enum"])
    if schema.get("type") == "boolean":
        return ((True, texts("form_boolean_yes")), (False, texts("form_boolean_no")))
    return ()


@attrs.frozen
class Condition:
    """An ``if``/``then``/``else``: which fields each branch governs and requires."""

    holds: Callable[[Any], bool]
    then_required: frozenset[str]
    else_required: frozenset[str]


# -- the runner -----------------------------------------------------------------------


@attrs.define
class _Progress:
    """The conversation's state inside the form, stored by the engine as JSON."""

    stage: str = "field"  # "field" | "summary" | "which"
    field: str | None = None
    answers: dict[str, Any] = attrs.Factory(dict)
    skipped: list[str] = attrs.Factory(list)
    failures: int = 0
    #: Whether a person was offered for the current question ("não sei" to a required one).
    offered: bool = False
    #: The city's date of the message being handled (not stored).
    today: dt.date | None = attrs.field(default=None, eq=False)

    @classmethod
    def load(cls, progress: Any, fields: Mapping[str, Field]) -> _Progress:
        """Read stored progress, dropping anything it cannot hold (never raises)."""
        if not isinstance(progress, Mapping):
            return cls()
        answers = progress.get("answers")
        skipped = progress.get("skipped")
        failures = progress.get("failures")
        stage = progress.get("stage")
        field = progress.get("field")
        return cls(
            stage=stage if stage in ("field", "summary", "which") else "field",
            field=field if isinstance(field, str) and field in fields else None,
            answers={k: v for k, v in answers.items() if isinstance(k, str) and k in fields}
            if isinstance(answers, Mapping)
            else {},
            skipped=[n for n in skipped if isinstance(n, str) and n in fields]
            if isinstance(skipped, list)
            else [],
            failures=failures if isinstance(failures, int) and failures >= 0 else 0,
            offered=progress.get("offered") is True,
        )

    def dump(self) -> dict[str, Any]:
        return attrs.asdict(self, filter=lambda attribute, _: attribute.name != "today")


class FormRunner:
    """Runs one form as a conversation.

    Holds no conversation state itself (all state is in ``progress``), so it can be
    built once per form and reused across conversations and processes. Validators are
    built once, here.

    :param name: the form's name (for logs).
    :param schema: the form, a valid civic form (see :func:`form_errors`).
    :param texts: the city's citizen-facing texts (keys ``form_*``).
    :param format_checker: from :func:`build_format_checker`.
    :param max_failures: refused answers in a row to one question before the runner
        shows an example and offers a human.
    :param warnings: per field name, ``warn(value, answers)`` called after the field's
        answer is accepted; a returned sentence is shown with the next message, and the
        answer stays accepted ("warn, never block").
    :param confirm: show the summary and ask for confirmation before submitting (a short
        questionnaire, such as the closing survey, submits after its last answer).
    :param humans: offer a person after repeated refused answers (not in the survey).
    """

    def __init__(
        self,
        name: str,
        schema: Mapping[str, Any],
        texts: Texts,
        format_checker: jsonschema.FormatChecker,
        *,
        max_failures: int = 3,
        warnings: Mapping[str, FieldWarning] | None = None,
        confirm: bool = True,
        humans: bool = True,
    ) -> None:
        import jsonschema

        self.name = name
        self.schema = schema
        self.texts = texts
        self.max_failures = max_failures
        self.warnings = dict(warnings or {})
        self.confirm = confirm
        self.humans = humans
        self.validator = jsonschema.Draft202012Validator(schema, format_checker=format_checker)
        self.fields: dict[str, Field] = {
            key: Field(
                key,
                prop,
                jsonschema.Draft202012Validator(prop, format_checker=format_checker),
                _options(prop, texts),
            )
            for key, prop in schema.get("properties", {}).items()
        }
        self.required = frozenset(schema.get("required", ()))
        self.dependent = {k: frozenset(v) for k, v in schema.get("dependentRequired", {}).items()}
        self.conditions = tuple(
            Condition(
                jsonschema.Draft202012Validator(cond["if"], format_checker=format_checker).is_valid,
                frozenset(cond.get("then", {}).get("required", ())),
                frozenset(cond.get("else", {}).get("required", ())),
            )
            for _, cond in _conditions(schema)
        )
        self.governed = frozenset().union(
            *(c.then_required | c.else_required for c in self.conditions)
        )
        self.words = {
            kind: _word_list(texts(f"form_words_{kind}"))
            for kind in ("cancel", "skip", "handover", "confirm", "correct", "back", "yes", "no")
        }
        self.dont_know = texts.words("dont_know")
        self.number_words = {word: Decimal(value) for word, value in texts.numbers().items()}
        self.number_prefixes = texts.words("number_prefix")
        self.date_words = formats.DateWords.from_texts(texts)

    # -- public interface -------------------------------------------------------------

    def start(self, prefill: Mapping[str, Any] | None = None) -> FormStep:
        """The first question.

        ``prefill`` holds answers inferred from what the citizen already wrote, by field
        name (see :mod:`civic.request`). Each one its field accepts is kept and told to
        the citizen (``form_prefilled``), who can change it at the summary; the others
        are dropped and asked as usual.
        """
        state = _Progress()
        return self._advance(state, self._prefill(state, prefill or {}))

    def _prefill(self, state: _Progress, values: Mapping[str, Any]) -> list[str]:
        """Keep the ``values`` their fields accept, in the form's order; say what was kept."""
        lines = []
        for name, field in self.fields.items():
            if name not in values or not self.visible(name, state.answers):
                continue
            value = values[name]
            if isinstance(value, str):
                value = _clean_answer(value)
            if value == "":
                continue
            try:
                self._validate(field, value)
            except Refused:
                continue
            state.answers[name] = value
            label = field.schema.get("x-civic-label") or field.title
            shown = self._show(field, state.answers)
            lines.append(self.texts("form_prefilled_line", title=label, value=shown))
        return [self.texts("form_prefilled", answers="\n".join(lines))] if lines else []

    def step(self, progress: Mapping[str, Any], text: str, *, today: dt.date) -> FormStep:
        """Handle the citizen's ``text``, given the ``progress`` of the previous step.

        ``today`` is the city's date of the message (the engine passes it): short dates
        ("ontem", "20/11") are read from it, ``x-civic-not-future`` fields refuse dates
        after it, and warnings are given it.
        Never raises: an unexpected error is logged and the current question asked again.
        """
        try:
            state = _Progress.load(progress, self.fields)
            state.today = today
            return self._step(state, text if isinstance(text, str) else "")
        except Exception:
            log.exception("form %s failed on a message; asking again", self.name)
        try:
            state = _Progress.load(progress, self.fields)
            return self._advance(state, [self.texts("form_error_invalid")])
        except Exception:
            log.exception("form %s cannot resume; starting over", self.name)
            return self.start()

    # -- visibility and requiredness --------------------------------------------------

    def visible(
        self, name: str, answers: Mapping[str, Any], holds: Sequence[bool] | None = None
    ) -> bool:
        """Whether the field is asked, given the answers so far (see the module doc).
        ``holds``, when given, is whether each of :attr:`conditions` holds for
        ``answers`` (worked out once for all the fields)."""
        if name in self.required or name not in self.governed:
            return True
        if holds is None:
            holds = [c.holds(answers) for c in self.conditions]
        return any(
            (name in c.then_required and held) or (name in c.else_required and not held)
            for c, held in zip(self.conditions, holds, strict=True)
        )

    def is_required(self, name: str, answers: Mapping[str, Any]) -> bool:
        """Whether the field may not be skipped, given the answers so far."""
        if name in self.required or (name in self.governed and self.visible(name, answers)):
            return True
        return any(name in needed and key in answers for key, needed in self.dependent.items())

    def visible_fields(self, answers: Mapping[str, Any]) -> list[Field]:
        holds = [c.holds(answers) for c in self.conditions]
        return [f for name, f in self.fields.items() if self.visible(name, answers, holds)]

    def _next_field(self, state: _Progress) -> str | None:
        for field in self.visible_fields(state.answers):
            if field.name in state.answers:
                continue
            if field.name in state.skipped and not self.is_required(field.name, state.answers):
                continue
            return field.name
        return None

    def _hidden(self, answers: Mapping[str, Any]) -> list[str]:
        """The answered fields that ``answers`` hide."""
        holds = [c.holds(answers) for c in self.conditions]
        return [name for name in answers if not self.visible(name, answers, holds)]

    def _prune(self, state: _Progress) -> None:
        """Drop answers to fields a changed answer has hidden, until nothing changes."""
        while hidden := self._hidden(state.answers):
            for name in hidden:
                del state.answers[name]

    # -- one message ------------------------------------------------------------------

    def _step(self, state: _Progress, text: str) -> FormStep:
        folded = fold(text)
        if state.stage == "summary":
            return self._at_summary(state, folded)
        if state.stage == "which":
            return self._at_which(state, folded)
        if state.field is None:
            return self._advance(state, [])
        return self._at_field(state, self.fields[state.field], text, folded)

    def _at_field(self, state: _Progress, field: Field, text: str, folded: str) -> FormStep:
        day = self._today(state)
        option = self._choose(field, folded, partial=False)
        if option is None and self._says_dont_know(field, folded):
            return self._dont_know(state, field)
        if option is None:
            option = self._choose(field, folded)
        if option is None:
            if folded in self.words["cancel"]:
                return self._end(CANCELLED, state, "form_cancelled")
            offered = not field.free_text or state.failures >= self.max_failures or state.offered
            # Where a person is offered (never where any text could be the answer), a
            # request in the citizen's own words counts too ("chama um atendente").
            asks = folded in self.words["handover"] or wants_person(folded)
            if self.humans and offered and asks:
                return self._end(HANDOVER, state, "form_handover")
            if folded in self.words["skip"]:
                return self._skip(state, field)
        try:
            value, notes = (
                (option[0], []) if option is not None else self._convert(field, text, day)
            )
            self._validate(field, value)
        except Refused as refused:
            return self._refuse(state, field, str(refused))
        state.answers[field.name] = value
        if field.name in state.skipped:
            state.skipped.remove(field.name)
        return self._advance(state, notes + self._warn(field, value, state.answers, day))

    @staticmethod
    def _today(state: _Progress) -> dt.date:
        """The city's date of the message; :meth:`step` always sets it."""
        if state.today is None:
            raise TypeError("FormRunner.step needs today=, the city's date of the message")
        return state.today

    def _choose(self, field: Field, folded: str, *, partial: bool = True) -> tuple[Any, str] | None:
        """The option picked by number or label (or, when ``partial``, by part of a label
        or a sentence holding one); for yes/no questions also ``s``/``n``."""
        option = _match_option(field.options, folded, self.number_prefixes, partial=partial)
        if option is None and field.type == "boolean" and len(field.options) == 2:
            if folded in self.words["yes"]:
                return field.options[0]
            if folded in self.words["no"]:
                return field.options[1]
        return option

    def _says_dont_know(self, field: Field, folded: str) -> bool:
        """Whether the answer says the citizen does not know or have it, and no option of
        the field is itself such an answer (a choice labelled "Não sei informar")."""
        # A one-word "não" is part of many labels ("Produto não entregue"): only a label
        # that is the answer itself, or holds a phrase of two words or more, wins.
        return says_dont_know(folded, self.dont_know) and not any(
            fold(label) == folded or (" " in folded and contains_keyword(fold(label), folded))
            for _, label in field.options
        )

    def _dont_know(self, state: _Progress, field: Field) -> FormStep:
        """ "Não sei": an optional field is skipped; a required one is explained (what is
        needed, the field's ``x-civic-dont-know`` hint, a person offered) and asked again.
        Never a failure: the citizen answered honestly."""
        if not self.is_required(field.name, state.answers):
            return self._skip(state, field, [self.texts("form_dont_know_skipped")])
        parts = [self.texts("form_dont_know_required", label=field.label)]
        hint = field.schema.get("x-civic-dont-know")
        if isinstance(hint, str) and hint.strip():
            parts.append(hint.strip())
        if self.humans:
            parts.append(self.texts("form_dont_know_handover"))
            state.offered = True
        return self._ask(state, field, parts)

    def _skip(self, state: _Progress, field: Field, before: list[str] | None = None) -> FormStep:
        if self.is_required(field.name, state.answers):
            return self._refuse(state, field, self.texts("form_error_not_optional"))
        state.answers.pop(field.name, None)
        if "default" in field.schema:
            state.answers[field.name] = field.schema["default"]
        elif field.name not in state.skipped:
            state.skipped.append(field.name)
        return self._advance(state, before or [])

    def _refuse(self, state: _Progress, field: Field, message: str) -> FormStep:
        state.failures += 1
        parts = [message]
        if state.failures >= self.max_failures:
            example = self._example(field)
            if example:
                parts.append(self.texts("form_help_example", example=example))
            if self.humans:
                parts.append(self.texts("form_help_handover"))
        return self._ask(state, field, parts)

    def _advance(self, state: _Progress, before: list[str]) -> FormStep:
        """Ask the next unanswered field, or show the summary when there is none."""
        self._prune(state)
        state.failures, state.offered = 0, False
        name = self._next_field(state)
        if name is None:
            return self._summary(state, before) if self.confirm else self._submit(state)
        return self._ask(state, self.fields[name], before)

    def _ask(self, state: _Progress, field: Field, before: list[str]) -> FormStep:
        state.stage, state.field = "field", field.name
        lines = [field.title]
        if field.schema.get("description"):
            lines.append(str(field.schema["description"]))
        if field.name in state.answers:
            lines.append(self.texts("form_current_value", value=self._show(field, state.answers)))
        if field.options:
            lines.append(self.texts("form_choice_hint"))
        if not self.is_required(field.name, state.answers):
            lines.append(self.texts("form_optional_hint"))
        choices = tuple(
            Choice(str(number), label) for number, (_, label) in enumerate(field.options, 1)
        )
        text = "\n\n".join([*before, "\n".join(lines)])
        return FormStep(ASKING, state.dump(), (Reply(text, choices),))

    def _end(self, status: str, state: _Progress, key: str) -> FormStep:
        return FormStep(status, state.dump(), (Reply(self.texts(key)),))

    def _warn(
        self, field: Field, value: Any, answers: Mapping[str, Any], day: dt.date
    ) -> list[str]:
        warn = self.warnings.get(field.name)
        if warn is None:
            return []
        try:
            parameters = inspect.signature(warn).parameters
            extra = {"texts": self.texts} if "texts" in parameters else {}
            message = (
                warn(value, dict(answers), day, **extra)
                if len(parameters) >= 3
                else warn(value, dict(answers))
            )
        except Exception:
            log.exception("warning for field %s of form %s raised", field.name, self.name)
            return []
        return [message] if isinstance(message, str) and message.strip() else []

    # -- reading an answer ------------------------------------------------------------

    def _convert(self, field: Field, text: str, day: dt.date) -> tuple[Any, list[str]]:
        """The value the citizen meant, before validation, and what to tell them about it
        (the date understood from "ontem"); raises :class:`Refused`."""
        cleaned = _clean_answer(text)
        if not cleaned:
            raise Refused(self.texts("form_error_empty"))
        if field.options:
            kind = "enum" if "enum" in field.schema else "oneOf"
            raise Refused(
                self._custom(field, kind)
                or self.texts("form_error_choice", count=len(field.options))
            )
        if field.type in ("integer", "number"):
            return self._number(field, cleaned), []
        if field.format not in formats.FORMATS:
            return cleaned, []
        not_future = bool(field.schema.get("x-civic-not-future"))
        notes = []
        try:
            if field.format == "date":
                latest = day if not_future else None
                reading = formats.read_date(cleaned, day, self.date_words, latest=latest)
                value = reading.value
                if not reading.complete:
                    shown = formats.display_date(value)
                    notes.append(self.texts("form_date_understood", date=shown))
            else:
                value = formats.normalise(field.format, cleaned)
        except formats.FormatError as error:
            raise Refused(
                self._custom(field, "format") or self.texts(error.key, **error.values)
            ) from None
        if not_future and value > day.isoformat():
            raise Refused(
                self._custom(field, "x-civic-not-future")
                or self.texts("form_error_future_date", date=formats.display(field.format, value))
            )
        return value, notes

    def _number(self, field: Field, text: str) -> int | float:
        number: Decimal | None
        try:
            number = formats.parse_decimal(text)
        except (ValueError, InvalidOperation):
            number = self.number_words.get(fold(text))
        if field.type == "integer":
            if number is None or number != number.to_integral_value():
                raise Refused(
                    self._custom(field, "type")
                    or self.texts("form_error_type_integer", example=_integer_example(field))
                )
            return int(number)
        if number is None or not number.is_finite() or abs(number) > Decimal("1e15"):
            raise Refused(self._custom(field, "type") or self.texts("form_error_type_number"))
        return int(number) if number == number.to_integral_value() else float(number)

    def _validate(self, field: Field, value: Any) -> None:
        from jsonschema.exceptions import best_match

        error = best_match(field.validator.iter_errors(value))
        if error is not None:
            raise Refused(self._message(field, error))

    def _message(self, field: Field, error: ValidationError) -> str:
        """A Portuguese sentence for a jsonschema error on one field."""
        kind = str(error.validator)
        custom = self._custom(field, kind)
        if custom:
            return custom
        limit = error.validator_value
        if kind == "type":
            expected = limit[0] if isinstance(limit, list) else limit
            key = f"form_error_type_{expected}"
            return self.texts(key if key in self.texts.catalog else "form_error_invalid")
        if kind in ("minLength", "maxLength"):
            key = "form_error_min_length" if kind == "minLength" else "form_error_max_length"
            # The stubs allow an Unset instance; iter_errors always sets it.
            length = len(error.instance)  # type: ignore[arg-type]
            return self.texts(key, limit=limit, length=length)
        if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            key = "form_error_" + re.sub(r"(?<!^)([A-Z])", r"_\1", kind).lower()
            return self.texts(key, limit=_number_text(limit))
        if kind in ("enum", "const", "oneOf", "anyOf"):
            return self.texts("form_error_choice", count=len(field.options))
        if kind in ("pattern", "format"):
            return self.texts(f"form_error_{kind}")
        return self.texts("form_error_invalid")

    def _custom(self, field: Field, kind: str) -> str | None:
        """The field's ``x-civic-error``: one sentence, or one per validator kind."""
        custom = field.schema.get("x-civic-error")
        if isinstance(custom, str):
            return custom
        if isinstance(custom, Mapping):
            found = custom.get(kind, custom.get("default"))
            return found if isinstance(found, str) else None
        return None

    def _example(self, field: Field) -> str | None:
        """An example answer: the field's ``examples``, its format's, or a choice."""
        examples = field.schema.get("examples")
        if isinstance(examples, list) and examples:
            return self._show_value(field, examples[0])
        if field.format in formats.FORMATS:
            return formats.FORMATS[field.format].example
        if field.options:
            return field.options[0][1]
        return None

    # -- summary and corrections ------------------------------------------------------

    def _summary(self, state: _Progress, before: list[str]) -> FormStep:
        state.stage, state.field = "summary", None
        lines = [self.texts("form_summary_title")]
        for number, field in enumerate(self.visible_fields(state.answers), 1):
            value = (
                self._show(field, state.answers)
                if field.name in state.answers
                else self.texts("form_summary_empty")
            )
            lines.append(
                self.texts("form_summary_line", number=number, title=field.label, value=value)
            )
        text = "\n\n".join([*before, "\n".join(lines), self.texts("form_summary_question")])
        choices = (
            Choice("1", self.texts("form_choice_confirm")),
            Choice("2", self.texts("form_choice_correct")),
            Choice("3", self.texts("form_choice_cancel")),
        )
        return FormStep(ASKING, state.dump(), (Reply(text, choices),))

    def _at_summary(self, state: _Progress, folded: str) -> FormStep:
        if self._picks(folded, "3", "cancel", "cancel"):
            return self._end(CANCELLED, state, "form_cancelled")
        if self._picks(folded, "1", "confirm", "confirm"):
            return self._submit(state)
        if self._picks(folded, "2", "correct", "correct") or folded in self.words["no"]:
            state.stage = "which"
            return FormStep(ASKING, state.dump(), (Reply(self.texts("form_which_field")),))
        if self.humans and (folded in self.words["handover"] or wants_person(folded)):
            return self._end(HANDOVER, state, "form_handover")
        ref, explicit = self._reference(folded)
        field = self._field_named(state, ref, numbers=explicit)
        if field is not None:
            return self._ask(state, field, [])
        return self._summary(state, [self.texts("form_summary_unknown")])

    def _picks(self, folded: str, number: str, choice: str, words: str) -> bool:
        """Whether the answer at the summary is the numbered choice, its label or a word."""
        label = fold(self.texts(f"form_choice_{choice}"))
        return folded in (number, label) or folded in self.words[words]

    def _at_which(self, state: _Progress, folded: str) -> FormStep:
        if folded in self.words["cancel"]:
            return self._end(CANCELLED, state, "form_cancelled")
        if folded in self.words["back"] or self.number_words.get(folded) == 0 or folded == "0":
            return self._summary(state, [])
        field = self._field_named(state, self._reference(folded)[0], numbers=True)
        if field is None:
            count = len(self.visible_fields(state.answers))
            return FormStep(
                ASKING,
                state.dump(),
                (Reply(self.texts("form_which_field_unknown", count=count)),),
            )
        return self._ask(state, field, [])

    def _reference(self, folded: str) -> tuple[str, bool]:
        """Split ``corrigir 2`` into ``("2", True)``; other text is ``(text, False)``."""
        for word in sorted(self.words["correct"], key=len, reverse=True):
            if folded.startswith(word + " "):
                return folded[len(word) + 1 :], True
        return folded, False

    def _field_named(self, state: _Progress, ref: str, *, numbers: bool) -> Field | None:
        """The visible field a citizen refers to by title, or by number when ``numbers``
        (at the summary a bare number is one of the confirm/correct/cancel choices)."""
        fields = self.visible_fields(state.answers)
        if not ref:
            return None
        index = _numbered(ref, self.number_prefixes)
        if index is not None:
            return fields[index - 1] if numbers and 1 <= index <= len(fields) else None
        squeezed = ref.replace(" ", "")
        for field in fields:
            names = (field.title, field.name, field.label)
            if squeezed in {fold(name).replace(" ", "") for name in names if name}:
                return field
        partial = [
            f
            for f in fields
            if contains_keyword(fold(f.title), ref) or contains_keyword(fold(f.label), ref)
        ]
        return partial[0] if len(partial) == 1 else None

    def _submit(self, state: _Progress) -> FormStep:
        """Validate everything again; submit, or ask again the first field in error."""
        data = dict(state.answers)
        errors = list(self.validator.iter_errors(data))
        if not errors:
            return FormStep(SUBMITTED, state.dump(), (), data)
        missing = self._next_field(state)
        for error in errors:
            name = error.path[0] if error.path else missing
            if name in self.fields:
                field = self.fields[name]
                problem = (
                    self._message(field, error)
                    if error.path
                    else self.texts("form_error_not_optional")
                )
                log.warning("form %s: final validation refused %s", self.name, name)
                return self._ask(state, field, [self.texts("form_recheck", problem=problem)])
        log.warning("form %s: final validation failed: %s", self.name, errors[0].message)
        return self._summary(state, [self.texts("form_error_invalid")])

    # -- showing values ---------------------------------------------------------------

    def _show(self, field: Field, answers: Mapping[str, Any]) -> str:
        shown = self._show_value(field, answers[field.name])
        if len(shown) > SUMMARY_VALUE_LIMIT:
            shown = shown[: SUMMARY_VALUE_LIMIT - 1] + "…"
        return shown

    def _show_value(self, field: Field, value: Any) -> str:
        """A value as people read it: a choice's label, ``529.982.247-25``, ``1,5``."""
        for const, label in field.options:
            if const == value and type(const) is type(value):
                return label
        if field.format and isinstance(value, str):
            return formats.display(field.format, value)
        if isinstance(value, float | int) and not isinstance(value, bool):
            return _number_text(value)
        return str(value)


# -- helpers --------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _word_list(template: str) -> frozenset[str]:
    """The folded phrases of a comma-separated ``form_words_*`` text."""
    return frozenset(filter(None, (fold(word) for word in template.split(","))))


def says_dont_know(folded: str, phrases: frozenset[str]) -> bool:
    """Whether a folded answer says the citizen does not know or have it: one of
    ``phrases`` (``words.dont_know``), or one of its phrases of two words or more that
    begins an answer of at most :data:`DONT_KNOW_WORDS` words without digits ("não tenho
    nota fiscal", "não sei o nome da loja", "não lembro não"). A longer sentence is an
    answer in its own right, and so is one beginning with a one-word phrase ("não gostei")."""
    if folded in phrases:
        return True
    words = folded.split()
    if not 3 <= len(words) <= DONT_KNOW_WORDS or any(char.isdigit() for char in folded):
        return False
    return any(" ".join(words[:n]) in phrases for n in range(2, len(words)))


def _numbered(folded: str, prefixes: frozenset[str]) -> int | None:
    """The number in ``2``, ``opção 2``, ``campo 2``, ``nº 2`` (``prefixes`` are the
    folded ``words.number_prefix``), or ``None``."""
    words = folded.split()
    if len(words) == 2 and words[0] in prefixes:
        words = words[1:]
    if len(words) == 1 and re.fullmatch(r"[0-9]{1,4}", words[0]):
        return int(words[0])
    return None


def _match_option(
    options: tuple[tuple[Any, str], ...],
    folded: str,
    prefixes: frozenset[str] = frozenset(),
    *,
    partial: bool = True,
) -> tuple[Any, str] | None:
    """The option the citizen chose by number (``2``, ``opção 2``), label or value; when
    ``partial``, also by part of a label or a sentence holding one."""
    if not options or not folded:
        return None
    number = _numbered(folded, prefixes)
    if number is not None and 1 <= number <= len(options):
        return options[number - 1]
    for option in options:
        if folded == fold(option[1]):
            return option
    for option in options:
        if not isinstance(option[0], bool) and folded == fold(str(option[0])):
            return option
    if not partial or len(folded) < 3:
        return None
    # Part of a label ("2a via do cam"), or a sentence holding a whole label ("quero a
    # troca do produto"): accepted only when exactly one option fits.
    fits: Callable[[str], bool]
    for fits in (
        lambda label: contains_keyword(label, folded),
        lambda label: contains_keyword(folded, label),
    ):
        found = [option for option in options if fits(fold(option[1]))]
        if len(found) == 1:
            return found[0]
    return None


def _clean_answer(text: str) -> str:
    """``text`` without invisible or control characters, trimmed, at most ANSWER_LIMIT."""
    text = text[:ANSWER_LIMIT]
    chunks = (strip_invisible(text[i : i + PARSE_LIMIT]) for i in range(0, len(text), PARSE_LIMIT))
    return "".join(chunks).strip()


def _integer_example(field: Field) -> str:
    """An integer the field accepts, for "answer with a whole number, like ..."."""
    low, high = field.schema.get("minimum"), field.schema.get("maximum")
    if low is not None:
        return str(int(low) if high is None else (int(low) + int(high)) // 2)
    return str(int(high)) if high is not None else "42"


def _number_text(value: Any) -> str:
    """A number the Brazilian way: ``1,5``; integers as typed: ``2024``."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(str(value)).normalize(), "f")
    return text.replace(".", ",")
