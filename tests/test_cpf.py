"""CPF identification: found in free text, validated, masked, never kept in clear."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civic import cpf
from civic.default_plugins import identify_cpf
from civic.texts import Texts
from civic.values import Identity, NotIdentified
from tests.strategies import (
    CPF_STYLES,
    IDENTITY_TEMPLATES,
    formatted_cpf,
    names,
    reference_check_digits,
    valid_cpfs,
    wrong_check_digit_cpfs,
)

TEXTS = Texts()


def identify(text: str) -> Identity | NotIdentified:
    return identify_cpf.identify_citizen(text=text, texts=TEXTS)


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("Maria José dos Santos 529.982.247-25", "Maria José dos Santos"),
        ("meu nome é joão da silva, cpf 52998224725", "João da Silva"),
        ("52998224725 Ana Paula", "Ana Paula"),
        ("CPF: 529 982 247 25 - nome: Conceição Araújo", "Conceição Araújo"),
        ("JOSÉ DE ALENCAR 529982247-25", "José de Alencar"),
        ("Oi, bom dia! Sou a Joana D'Arc, 529.982.247-25", "Joana D'Arc"),
        ("Maria 529.982.247-25 35998391153", "Maria"),
    ],
)
def test_identifies_name_and_cpf(message: str, name: str) -> None:
    result = identify(message)
    assert result == Identity(name=name, cpf="52998224725")


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ("Maria da Silva", "Não encontrei um CPF"),
        ("Maria 111.111.111-11", "todos os dígitos iguais"),
        ("Maria 529.982.247-24", "dígitos verificadores não conferem"),
        ("Maria 529.982.247-2", "encontrei 10"),
        ("529.982.247-25", "faltou o seu nome"),
        ("", "Não encontrei um CPF"),
    ],
)
def test_refuses_with_a_reason(message: str, fragment: str) -> None:
    result = identify(message)
    assert isinstance(result, NotIdentified)
    assert fragment in result.reason


def test_stdnum_accepts_repeated_digits_but_we_do_not() -> None:
    from stdnum.br import cpf as stdnum_cpf

    assert stdnum_cpf.is_valid("11111111111")
    assert cpf.validate("11111111111") == cpf.CpfProblem("repeated", "11111111111")


def test_mask_and_hash() -> None:
    assert cpf.mask("52998224725") == "***.982.247-**"
    first = cpf.keyed_hash("52998224725", b"a")
    assert first == cpf.keyed_hash("52998224725", b"a")
    assert first != cpf.keyed_hash("52998224725", b"b")
    assert "52998224725" not in first


def test_reference_check_digits_agrees_with_a_known_cpf() -> None:
    assert reference_check_digits("529982247") == "25"


@given(digits=valid_cpfs(), style=CPF_STYLES, name=names, template=IDENTITY_TEMPLATES)
def test_every_valid_cpf_in_any_format_is_identified(
    digits: str, style: int, name: str, template: str
) -> None:
    message = template.format(n=name, c=formatted_cpf(digits, style))
    result = identify(message)
    assert result == Identity(name=name, cpf=digits)
    assert cpf.mask(result.cpf) == f"***.{digits[3:6]}.{digits[6:9]}-**"


@given(digits=wrong_check_digit_cpfs(), style=CPF_STYLES, name=names)
def test_wrong_check_digits_are_refused(digits: str, style: int, name: str) -> None:
    result = identify(f"{name} {formatted_cpf(digits, style)}")
    assert isinstance(result, NotIdentified)
    assert "dígitos verificadores" in result.reason


@given(digit=st.sampled_from("0123456789"), style=CPF_STYLES, name=names)
def test_repeated_digits_are_refused(digit: str, style: int, name: str) -> None:
    result = identify(f"{name} {formatted_cpf(digit * 11, style)}")
    assert isinstance(result, NotIdentified)
    assert "todos os dígitos iguais" in result.reason


@given(text=st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    result = identify(text)
    if isinstance(result, Identity):
        assert cpf.validate(result.cpf) is None
    else:
        assert result.reason


@given(digits=valid_cpfs(), style=CPF_STYLES, name=names, template=IDENTITY_TEMPLATES)
def test_the_message_log_never_keeps_a_cpf(
    digits: str, style: int, name: str, template: str
) -> None:
    redacted = cpf.redact(template.format(n=name, c=formatted_cpf(digits, style)))
    assert isinstance(cpf.find_cpf(redacted), cpf.CpfProblem)
    assert cpf.mask(digits) in redacted and name in redacted
