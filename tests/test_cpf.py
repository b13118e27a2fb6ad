"""CPF identification: found in free text, validated, masked, never kept in clear."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.br import cpf as stdnum_cpf
from typer.testing import CliRunner

from civic import cpf, redaction
from civic.default_plugins import identify_cpf
from civic.plugins import make_manager
from civic.reading import read
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
    assert stdnum_cpf.is_valid("11111111111")
    assert cpf.validate("11111111111") == cpf.CpfProblem("repeated", "11111111111")


def test_mask_and_hash() -> None:
    assert cpf.mask("52998224725") == "***.982.247-**"
    assert cpf.mask("5299822472") == "***.982.***-*"
    assert cpf.mask("529982247253") == "***.982.***-***"
    first = cpf.keyed_hash("52998224725", b"a")
    assert first == cpf.keyed_hash("52998224725", b"a")
    assert first != cpf.keyed_hash("52998224725", b"b")
    assert "52998224725" not in first


@pytest.mark.parametrize("digits", ["５２９９８２２４７２５", "٥٢٩٩٨٢٢٤٧٢٥", "529.982.247-25", ""])
def test_keyed_hash_takes_ascii_digits_only(digits: str) -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        cpf.keyed_hash(digits, b"a")
    assert cpf.validate(digits) == cpf.CpfProblem("length", digits)


@given(digits=st.text("0123456789", min_size=11, max_size=11))
def test_check_digits_agree_with_stdnum(digits: str) -> None:
    assert (cpf.validate(digits) is None) == (stdnum_cpf.is_valid(digits) and len(set(digits)) > 1)


@given(base=st.text("0123456789", min_size=9, max_size=9))
def test_complete_gives_the_receitas_check_digits(base: str) -> None:
    assert cpf.complete(base) == base + reference_check_digits(base)


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


# -- what looks like a CPF -------------------------------------------------------------

MASKED = [
    ("529.982.247-25", "***.982.247-**"),
    ("52998224725", "***.982.247-**"),
    ("529 982 247 25", "***.982.247-**"),
    ("529.982.247/25", "***.982.247-**"),
    ("529982247-25", "***.982.247-**"),
    ("529.982.247 - 25", "***.982.247-**"),
    ("529\u200b982\u200b247\u200b25", "***.982.247-**"),
    ("529\x00982\x00247\x0025", "***.982.247-**"),
    ("５２９．９８２．２４７－２５", "***.982.247-**"),
    ("529,982,247-25", "***.982.247-**"),
    ("529.982.247,25", "***.982.247-**"),
    ("5299 8224 725", "***.982.247-**"),
    ("cpf:52998224725!", "cpf:***.982.247-**!"),
    ("52998224725 35998391153", "***.982.247-** ***.983.911-**"),  # two numbers
    ("52998224725,35998391153", "***.982.247-**,***.983.911-**"),
    ("52998224725-1", "***.982.247-**-1"),
    ("529.982.247-24", "***.982.247-**"),  # wrong check digits: the rest gives it away
    ("111.111.111-11", "***.111.111-**"),
    ("35998391153", "***.983.911-**"),  # a bare mobile cannot be told from a CPF
    ("529.982.247-2", "***.982.***-*"),  # a digit missing
    ("529982247-2", "***.982.***-*"),
    ("52.982.247-25", "***.822.***-*"),
    ("529.982.247-253", "***.982.***-***"),  # a digit extra
    ("5299.982.247-25", "***.998.***-***"),
]
NOT_MASKED = [
    "(35) 99999-0000",
    "(35)99999-0000",
    "35 99999-0000",
    "35 9 9999-0000",
    "3599999-0000",
    "+55 35 99999-0000",
    "5535999990000",
    "+5535999990000",
    "35 3333-1234",
    "12.345.678/0001-95",
    "12345678000195",
    "12 345 678 0001 95",
    "37640-000",
    "CEP 37.640-000",
    "12/05/2026",
    "12/05/2026 10:30",
    "12/05/2026 153",
    "2026-05-12 10:30",
    "R$ 3.499,90",
    "R$ 12.345.678,90",
    "12.345.678,90",
    "R$ 123.456.789,00",
    "PROCON-2026-000123",
    "PROCON-2026-00012345",
    "1 2 3 4 5 6 7 8 9 10",
    "protocolo 2026031200123",
    "5299822472",  # ten digits in a row: a landline with its area code
    "529.982.247",
]


@pytest.mark.parametrize(("typed", "masked"), MASKED)
def test_masked(typed: str, masked: str) -> None:
    assert cpf.redact(typed) == masked
    assert read(f"texto {typed} fim").redacted == f"texto {masked} fim"


@pytest.mark.parametrize("typed", NOT_MASKED)
def test_not_masked(typed: str) -> None:
    assert cpf.redact(typed) == typed
    assert cpf.candidates(f"Maria {typed}.") == ()
    assert isinstance(cpf.find_cpf(typed), cpf.CpfProblem)


def test_find_cpf_keeps_its_contract() -> None:
    text = "Maria 529.982.247-24, ou melhor 529.982.247-25"
    assert cpf.find_cpf(text) == ("52998224725", (32, 46))
    assert text[32:46] == "529.982.247-25"
    assert cpf.find_cpf("Maria 529\u200b982.247-25") == ("52998224725", (6, 20))
    assert cpf.find_cpf("Maria 529.982.247-2") == cpf.CpfProblem("length", "5299822472")
    assert cpf.find_cpf("Maria") == cpf.CpfProblem("missing")


def test_identifies_from_any_script_and_invisible_marks() -> None:
    result = identify("Maria\u200b ５２９．９８２\u200b．２４７－２５\x00")
    assert result == Identity(name="Maria", cpf="52998224725")


# -- logs and traces -------------------------------------------------------------------


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A ``civic.test`` logger writing through a redacting handler into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redaction.RedactingFilter())
    logger = logging.getLogger("civic.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_log_messages_are_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    logger.warning("from %s: %r", "+5535999990000", "Maria 529.982.247-25")
    logger.warning("%d %s", 3, "35 99999-0000 52998224724 dia 2026-05-12")
    assert stream.getvalue().splitlines() == [
        "from +*********0000: 'Maria ***.982.247-**'",
        "3 ** *****-0000 ***.982.247-** dia 2026-05-12",
    ]


def test_exceptions_in_logs_are_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    try:
        raise ValueError("bad CPF 529 982 247 25 from (35) 99999-0000")
    except ValueError:
        logger.exception("failed")
    logger.warning("broken %s %s", "52998224725")  # wrong arguments: shown, masked
    written = stream.getvalue()
    assert "ValueError: bad CPF ***.982.247-** from (**) *****-0000" in written
    assert "broken %s %s ('***.982.247-**',)" in written
    assert "247" not in written.replace("982.247-", "")


def test_the_filter_formats_the_record_once() -> None:
    record = logging.makeLogRecord({"msg": "cpf %s", "args": ("529.982.247-25",)})
    assert redaction.RedactingFilter().filter(record)
    assert (record.msg, record.args) == ("cpf ***.982.247-**", ())
    assert redaction.RedactingFilter().filter(record)
    assert record.getMessage() == "cpf ***.982.247-**"


@given(digits=valid_cpfs(), style=CPF_STYLES, name=names, template=IDENTITY_TEMPLATES)
def test_no_log_line_keeps_a_cpf(digits: str, style: int, name: str, template: str) -> None:
    line = redaction.redact_line(template.format(n=name, c=formatted_cpf(digits, style)))
    assert digits not in line.replace(".", "").replace("-", "").replace(" ", "")


@pytest.fixture
def root_handler(monkeypatch: pytest.MonkeyPatch) -> logging.Handler:
    """The root logger's only handler for one test (pytest's own are put back after)."""
    handler = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    monkeypatch.setattr(logging.getLogger("civic"), "handlers", [])
    return handler


def test_install_is_idempotent(root_handler: logging.Handler) -> None:
    redaction.install()
    redaction.install()
    assert sum(isinstance(f, redaction.RedactingFilter) for f in root_handler.filters) == 1


def test_the_cli_installs_the_filter(root_handler: logging.Handler) -> None:
    from civic.cli import app

    CliRunner().invoke(app, ["plugins"])
    assert any(isinstance(f, redaction.RedactingFilter) for f in root_handler.filters)


def test_plugin_traces_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    manager = make_manager({"CIVIC_TRACE_PLUGINS": "1", "CIVIC_LOAD_PLUGINS": ""})
    manager.trace("identify_citizen", {"text": "Maria 529.982.247-25, 35 99999-0000"})
    written = capsys.readouterr().err
    assert "text: 'Maria ***.982.247-**, ** *****-0000'" in written
    assert "982.247-25" not in written
