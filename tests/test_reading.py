"""Reading a message once: normalised, cut, folded, searched for CPFs, redacted."""

from __future__ import annotations

import json
import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civic import cpf
from civic.reading import PARSE_LIMIT, STORE_LIMIT, read
from civic.text import FORMAT_RANGES, fold, normalise
from tests.strategies import valid_cpfs

VALID = "52998224725"

#: Digits of several scripts, as a citizen's keyboard may send them.
DIGIT_SCRIPTS = (
    "0123456789",
    "０１２３４５６７８９",  # fullwidth
    "٠١٢٣٤٥٦٧٨٩",  # Arabic-Indic
    "۰۱۲۳۴۵۶۷۸۹",  # extended Arabic-Indic
    "०१२३४५६७८९",  # Devanagari
    "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",  # mathematical bold
)
#: Invisible characters that may sit between any two digits.
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u180e\u202a\u2066"
#: Characters people (and broken keyboards) put between the groups of a number.
SEPARATOR_CHARS = ".-/ ,\u00a0\t\x00\r\u2013\uff0e\uff0d"
NOT_COMMA = SEPARATOR_CHARS.replace(",", "")


def only_digits(text: str) -> str:
    """The ASCII digits of ``text`` (any script's digits converted first)."""
    return re.sub(r"[^0-9]", "", normalise(text))


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)

#: Any text, lone surrogates included.
any_text = st.text(st.one_of(st.characters(), surrogates), max_size=200)

#: Text rich in what the detector looks at: digits of any script, separators, invisible.
digit_soup = st.text(
    st.one_of(
        st.sampled_from("0123456789" * 3 + SEPARATOR_CHARS + INVISIBLE + "５٣aR$-(+"),
        st.characters(),
        surrogates,
    ),
    max_size=300,
)

#: Text around a number that holds no digit and no currency sign (which makes a number
#: money), lone surrogates included.
surroundings = st.text(
    st.one_of(
        st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="$€£"),
        surrogates,
    ),
    max_size=30,
)


@st.composite
def typed(draw: st.DrawFn, digits: str, groups: tuple[int, ...], last_gap: str = "") -> str:
    """``digits`` as a citizen may type them: in ``groups``, one to three separator
    characters between groups (from ``last_gap`` before the last, when given), invisible
    characters anywhere, each digit in any script."""
    pieces, position = [], 0
    for index, length in enumerate(groups):
        if index:
            alphabet = last_gap if last_gap and index == len(groups) - 1 else SEPARATOR_CHARS
            pieces.append(draw(st.text(alphabet, min_size=1, max_size=3)))
        for digit in digits[position : position + length]:
            pieces.append(draw(st.sampled_from(DIGIT_SCRIPTS))[int(digit)])
            pieces.append(draw(st.text(INVISIBLE, max_size=2)))
        position += length
    return "".join(pieces)


#: How the eleven digits of a CPF are grouped: separators at any of the CPF's places.
cpf_groupings = st.sets(st.sampled_from([3, 6, 9])).map(
    lambda cuts: tuple(b - a for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), 11], strict=True))
)


@st.composite
def mistyped_cpfs(draw: st.DrawFn) -> tuple[str, str, tuple[int, ...]]:
    """A valid CPF, the digits typed with one digit missing or extra, and their grouping
    (``529.982.247-2``, ``5299.982.247-25``, ``529982247-253``)."""
    valid = draw(valid_cpfs())
    shape = draw(st.sampled_from([(3, 3, 3, 2), (9, 2)]))
    group = draw(st.integers(0, len(shape) - 1))
    start = sum(shape[:group])
    position = draw(st.integers(start, start + shape[group] - 1))
    if draw(st.booleans()):
        digits = valid[:position] + valid[position + 1 :]
        grouping = (*shape[:group], shape[group] - 1, *shape[group + 1 :])
    else:
        digits = valid[:position] + draw(st.sampled_from("0123456789")) + valid[position:]
        grouping = (*shape[:group], shape[group] + 1, *shape[group + 1 :])
    return valid, digits, grouping


# -- normalising ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("５２９．９８２", "529．982"),  # digits of any script become ASCII; the rest stays
        ("٥٢٩ ९८२ 𝟐𝟒𝟕", "529 982 247"),
        ("a\u200bb\u200dc\ufeffd\u00ade\u2060f", "abcdef"),
        ("nul\x00byte\x07bell\r\nok\tok", "nul byte bell \nok\tok"),
        ("rua São João, nº 5, 2º andar, ½ m²", "rua São João, nº 5, 2º andar, ½ m²"),
        ("\u202eevil\u202c", "evil"),
        (json.loads('"Maria \\ud8da fim"'), "Maria \ufffd fim"),
    ],
)
def test_normalised_text(raw: str, text: str) -> None:
    assert read(raw).text == text


def test_every_formatting_character_is_known() -> None:
    known = {code for low, high in FORMAT_RANGES for code in range(low, high + 1)}
    formatting = {c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    assert formatting <= known
    assert all(unicodedata.category(chr(c)) in ("Cf", "Cn") for c in known)


def test_a_long_message_is_cut_and_marked() -> None:
    reading = read("a" * (STORE_LIMIT + 10))
    assert reading.truncated and reading.text == "a" * STORE_LIMIT
    assert not read("a" * STORE_LIMIT).truncated
    assert len(read("x" * 5000).folded) == PARSE_LIMIT


def test_a_cpf_cut_by_the_limit_is_dropped_whole() -> None:
    head = "x" * (STORE_LIMIT - 5)
    reading = read(head + "529.982.247-25 " + "y" * 100)
    assert reading.truncated and reading.text == head
    assert reading.redacted == head


def test_folded_words_and_numbers() -> None:
    reading = read("Olá, NOTA: 9/10 — obrigada! ５ estrelas")
    assert reading.folded == "ola nota 9 10 obrigada 5 estrelas"
    assert reading.words == ("ola", "nota", "9", "10", "obrigada", "5", "estrelas")
    assert reading.numbers == (9, 10, 5)


def test_the_repr_shows_no_cpf() -> None:
    reading = read("Maria 529.982.247-25 e 52998224724")
    assert reading.cpf == VALID
    shown = repr(reading) + repr(reading.cpfs)
    assert "982.247-2" not in shown and "52998224725" not in shown
    assert "52998224724" not in shown and "***.982.247-**" in shown


# -- CPFs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("Maria 529.982.247-25 111.111.111-11", None),
        ("111.111.111-11 Maria 529.982.247-25", None),
        ("Maria", "missing"),
        ("Maria 35 99999-0000", "missing"),
        ("Maria 529.982.247-2", "length"),
        ("Maria 529.982.247-2 111.111.111-11", "repeated"),
        ("Maria 529.982.247-24 111.111.111-11", "check_digits"),
    ],
)
def test_cpf_and_problem(message: str, problem: str | None) -> None:
    reading = read(message)
    assert (reading.cpf_problem and reading.cpf_problem.code) == problem
    assert (reading.cpf == VALID) is (problem is None)


def test_keyed_hash_of_any_script_is_that_of_ascii() -> None:
    reading = read("Ana ５２９．９８２．２４７－２５")
    assert reading.cpf == VALID
    assert cpf.keyed_hash(reading.cpf, b"s") == cpf.keyed_hash(VALID, b"s")
    with pytest.raises(ValueError, match="ASCII"):
        cpf.keyed_hash("５２９９８２２４７２５", b"s")


def test_a_megabyte_of_numbers_is_read() -> None:
    reading = read("52998224725 " * 90_000)
    assert reading.truncated and len(reading.text) <= STORE_LIMIT
    assert reading.cpf == VALID and len(reading.cpfs) == STORE_LIMIT // 12
    assert reading.text.endswith(" 52998224725 ")  # not cut inside the next one
    assert VALID not in reading.redacted and cpf.candidates(reading.redacted) == ()
    soup = read(("1.2 3.45 678 9, " * 70_000) + "Maria 529.982.247-25")
    assert soup.truncated and soup.cpf is None
    assert cpf.candidates(soup.redacted) == ()
    dots = read("5." * 600_000)
    assert dots.truncated and dots.cpfs == () and dots.numbers[:2] == (5, 5)


# -- properties ----------------------------------------------------------------------


@given(raw=any_text)
def test_any_text_is_read(raw: str) -> None:
    reading = read(raw)
    reading.text.encode("utf-8")
    reading.redacted.encode("utf-8")
    assert len(reading.text) <= STORE_LIMIT
    assert read(reading.text).text == reading.text  # reading twice changes nothing
    assert reading.folded == fold(reading.text) == fold(raw)
    assert reading.words == tuple(reading.folded.split())


@given(raw=digit_soup)
def test_nothing_cpf_like_survives_redaction(raw: str) -> None:
    reading = read(raw)
    assert cpf.candidates(reading.redacted) == ()
    assert cpf.candidates(cpf.redact(raw)) == ()
    assert cpf.redact(cpf.redact(raw)) == cpf.redact(raw)
    for candidate in reading.cpfs:
        start, end = candidate.span
        assert only_digits(reading.text[start:end]) == candidate.digits
        assert candidate.masked in reading.redacted


@given(
    digits=valid_cpfs(),
    grouping=cpf_groupings,
    data=st.data(),
    before=surroundings,
    after=surroundings,
)
def test_a_cpf_typed_any_way_is_found_and_masked(
    digits: str, grouping: tuple[int, ...], data: st.DataObject, before: str, after: str
) -> None:
    raw = before + data.draw(typed(digits, grouping)) + after
    reading = read(raw)
    assert reading.cpf == digits
    assert digits not in only_digits(reading.redacted)
    assert cpf.mask(digits) in reading.redacted
    assert cpf.find_cpf(raw)[0] == digits
    assert digits not in only_digits(cpf.redact(raw))


@given(
    valid=valid_cpfs(),
    position=st.integers(0, 10),
    change=st.integers(1, 9),
    grouping=cpf_groupings,
    data=st.data(),
    before=surroundings,
    after=surroundings,
)
def test_a_cpf_with_a_wrong_digit_is_masked(
    valid: str,
    position: int,
    change: int,
    grouping: tuple[int, ...],
    data: st.DataObject,
    before: str,
    after: str,
) -> None:
    wrong = f"{valid[:position]}{(int(valid[position]) + change) % 10}{valid[position + 1 :]}"
    raw = before + data.draw(typed(wrong, grouping)) + after
    reading = read(raw)
    assert [c.digits for c in reading.cpfs] == [wrong]
    assert wrong not in only_digits(reading.redacted)
    assert valid[:9] not in only_digits(reading.redacted)
    assert wrong not in only_digits(cpf.redact(raw))


@given(mistyped=mistyped_cpfs(), data=st.data(), before=surroundings, after=surroundings)
def test_a_cpf_with_a_digit_missing_or_extra_is_masked(
    mistyped: tuple[str, str, tuple[int, ...]], data: st.DataObject, before: str, after: str
) -> None:
    valid, digits, grouping = mistyped
    # A comma before two last digits would make it money (12.345.678,90).
    raw = f"{before} {data.draw(typed(digits, grouping, last_gap=NOT_COMMA))} {after}"
    reading = read(raw)
    assert [(c.digits, c.problem) for c in reading.cpfs] == [
        (digits, cpf.CpfProblem("length", digits))
    ]
    assert reading.cpf_problem == cpf.CpfProblem("length", digits)
    redacted = only_digits(reading.redacted)
    assert digits not in redacted and valid[:9] not in redacted
    assert digits not in only_digits(cpf.redact(raw))
