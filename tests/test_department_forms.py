"""Every form of every installed department, driven with generated data.

Data comes from each field's own schema through hypothesis-jsonschema, is typed as a
citizen would type it, and must be accepted and stored normalised; a value that breaks
the field's schema must be refused with a message and the question asked again.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import jsonschema
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from civic import departments, formats
from civic.forms import FormRunner
from civic.plugins import load_plugins
from civic.text import fold
from tests import test_forms
from tests.test_forms import CHECKER, TEXTS, TODAY, form_data, say, typed_value

REGISTRY = departments.collect(load_plugins())
INSTALLED = [
    pytest.param(department.slug, name, schema, id=f"{department.slug}/{name}")
    for department in REGISTRY
    for name, schema in department.forms.items()
]
#: Free text drawn as words, so it reads like an answer (the runner trims spaces).
WORDS = "^[A-Za-zÀ-ÖØ-öø-ÿ0-9]+( [A-Za-zÀ-ÖØ-öø-ÿ0-9]+)*$"


def valid_cnpjs() -> st.SearchStrategy[str]:
    """Numeric and alphanumeric CNPJs with correct check digits."""
    from stdnum.br import cnpj

    base = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12)
    return base.filter(lambda b: len(set(b)) > 1).map(lambda b: b + cnpj.calc_check_digits(b))


#: Every format the installed departments' forms use, drawn as valid values.
DEPARTMENT_FORMATS = {
    **test_forms.CUSTOM_FORMATS,
    "cpf-cnpj": st.one_of(test_forms.valid_cpfs(), valid_cnpjs()),
    "phone": st.tuples(
        st.sampled_from(sorted(formats.AREA_CODES)), st.integers(10_000_000, 99_999_999)
    ).map(lambda parts: f"{parts[0]}9{parts[1]}"),
    # Dates a not-future field accepts (``x-civic-not-future``), drawn as such, so
    # Hypothesis does not throw most of them away.
    "past-date": st.dates(dt.date(1000, 1, 1), dt.date(2026, 1, 1)).map(dt.date.isoformat),
    "email": st.from_regex(
        r"[a-z]{1,10}(\.[a-z]{1,5})?@[a-z]{2,10}\.(com|gov)\.br", fullmatch=True
    ),
}


def generatable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The form with free-text fields constrained to words and dates to the past."""
    copied = copy.deepcopy(dict(schema))
    for prop in copied["properties"].values():
        if prop.get("type", "string") == "string" and "format" not in prop and "oneOf" not in prop:
            prop.setdefault("pattern", WORDS)
        if prop.get("x-civic-not-future"):
            prop["format"] = "past-date"
    return copied


def typed(form: FormRunner, name: str, value: Any, draw: st.DrawFn) -> str:
    fmt = form.fields[name].format
    if fmt == "cpf-cnpj":
        return formats.display(fmt, value) if draw(st.booleans()) else value
    if fmt == "phone":
        return draw(st.sampled_from([formats.display_phone(value), value, f"+55 {value}"]))
    if fmt == "email":
        return value
    return typed_value(form, name, value, draw)


@pytest.mark.filterwarnings("ignore:Overriding standard format 'date'")
@pytest.mark.parametrize(("slug", "name", "schema"), INSTALLED)
@given(data=st.data())
def test_generated_answers_are_accepted(
    slug: str, name: str, schema: Mapping[str, Any], data: st.DataObject
) -> None:
    form = FormRunner(name, schema, TEXTS, CHECKER)
    wanted = data.draw(form_data(generatable(schema), DEPARTMENT_FORMATS))
    for field_name, value in wanted.items():
        if form.fields[field_name].schema.get("x-civic-not-future"):
            assume(dt.date.fromisoformat(value) <= TODAY)
    step = form.start()
    for _ in range(40):
        if step.progress["stage"] != "field":
            break
        field = step.progress["field"]
        text = typed(form, field, wanted[field], data.draw) if field in wanted else "pular"
        step = say(form, step, text)
        assert step.progress.get("failures", 0) == 0, (field, text, step.replies[0].text)
    done = say(form, step, "1")
    assert done.status == "submitted", done.replies
    jsonschema.Draft202012Validator(schema, format_checker=CHECKER).validate(done.data)
    assert done.data == {
        key: formats.normalise(form.fields[key].format, value) if form.fields[key].format else value
        for key, value in wanted.items()
        if form.visible(key, done.data)
    }


def breaking_answers(prop: Mapping[str, Any]) -> list[str]:
    """Answers that no valid value of ``prop`` can be typed as."""
    answers = ["", "\u200b"]
    if "oneOf" in prop or "enum" in prop:
        answers += ["99", "nenhuma dessas opções"]
    if prop.get("type") == "boolean":
        answers += ["talvez"]
    answers += {
        "date": ["xyz", "31/02/2020", "2020"],
        "money": ["xyz", "R$ 1,2,3", "12,345"],
        "phone": ["xyz", "123", "(00) 99999-9999"],
        "email": ["xyz", "maria@", "@exemplo.com"],
        "cpf-cnpj": ["xyz", "123", "111.111.111-11", "11.222.333/0001-00"],
        "cpf": ["xyz", "529.982.247-24"],
    }.get(prop.get("format", ""), [])
    if prop.get("x-civic-not-future"):
        answers += ["01/01/2999"]
    if "minLength" in prop and prop["minLength"] > 1:
        answers += ["a"]
    if "maxLength" in prop:
        answers += ["a" * (prop["maxLength"] + 1)]
    return answers


@pytest.mark.parametrize(("slug", "name", "schema"), INSTALLED)
def test_answers_breaking_the_schema_are_refused(
    slug: str, name: str, schema: Mapping[str, Any]
) -> None:
    form = FormRunner(name, schema, TEXTS, CHECKER)
    for field_name in schema["properties"]:
        prop = schema["properties"][field_name]
        for answer in breaking_answers(prop):
            step = form.start()
            progress = {**step.progress, "field": field_name}
            refused = form.step(progress, answer, today=TODAY)
            assert refused.status == "asking"
            assert refused.progress["field"] == field_name, (field_name, answer)
            assert refused.progress["failures"] == 1, (field_name, answer)
            assert refused.replies and refused.replies[0].text.strip()
            assert field_name not in refused.progress.get("answers", {})


@pytest.mark.parametrize(
    ("slug", "name", "schema"), [pytest.param(*p.values, id=p.id) for p in INSTALLED]
)
def test_every_field_has_a_short_label(slug: str, name: str, schema: Mapping[str, Any]) -> None:
    """The summary and the correction screen name each field by its ``x-civic-label``,
    never by its question."""
    missing = [
        field for field, prop in schema["properties"].items() if not prop.get("x-civic-label")
    ]
    assert missing == []
    for prop in schema["properties"].values():
        assert len(prop["x-civic-label"]) <= 40 and not prop["x-civic-label"].endswith("?")


@pytest.mark.parametrize(("slug", "name", "schema"), INSTALLED)
def test_every_summary_shows_short_labels(slug: str, name: str, schema: Mapping[str, Any]) -> None:
    """Labelled or not (the fallback), no field is named by its question."""
    form = FormRunner(name, schema, TEXTS, CHECKER)
    for field in form.fields.values():
        assert field.label and not field.label.endswith("?") and len(field.label) <= 40


@pytest.mark.parametrize(("slug", "name", "schema"), INSTALLED)
@given(saying=st.sampled_from(sorted(TEXTS.catalog["words.dont_know"])), data=st.data())
def test_dont_know_is_never_stored_in_a_department_form(
    slug: str, name: str, schema: Mapping[str, Any], saying: str, data: st.DataObject
) -> None:
    """At any question of any installed form, "não sei" skips an optional field and
    explains a required one; it is never the answer."""
    form = FormRunner(name, schema, TEXTS, CHECKER)
    field = data.draw(st.sampled_from(list(schema["properties"])))
    # "não" is an answer where it is an option's label (a yes-or-no question).
    assume(not any(fold(label) == fold(saying) for _, label in form.fields[field].options))
    progress = {**form.start().progress, "field": field}
    step = form.step(progress, saying, today=TODAY)
    assert step.status == "asking"
    assert field not in step.progress["answers"]
    if form.is_required(field, {}):
        assert step.progress["field"] == field
        assert step.progress["failures"] == 0
    else:
        assert field in step.progress["skipped"]
