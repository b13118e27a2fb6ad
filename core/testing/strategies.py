"""Hypothesis strategies for civic: documents, names, messages, form answers and scores.

Every strategy draws what a Brazilian citizen really sends, in the ways they send it:

- **Documents.** :func:`valid_cpfs`, :func:`invalid_cpfs`, :func:`valid_cnpjs` (numeric
  and the alphanumeric CNPJ of IN RFB 2.229/2024), :func:`invalid_cnpjs`, and
  :func:`typed_cpfs` / :func:`typed_cnpjs`, which write a document with dots, dashes,
  slashes, spaces or nothing, fullwidth digits, zero-width characters inside. The check
  digits are computed here from the Receita's rules, independently of the code under
  test, so a test checks civic rather than trusting it.
- **People.** :func:`brazilian_names` (real given names and surnames, particles inside,
  as typed: accents or none, any case) and :func:`identity_messages` ("name and CPF"
  in the sentences people wrap them in).
- **Messages.** :func:`portuguese_messages` (ordinary requests), :func:`hostile_messages`
  (empty, huge, emoji, invisible and right-to-left characters, markup, SQL, lone
  surrogates) and :func:`citizen_messages`, both mixed.
- **Forms.** :func:`form_answers` draws a valid answer set for *any* civic form (each
  field's value from its own schema, through hypothesis-jsonschema where it fits),
  :func:`typed_answer` writes one value the way a citizen would type it (a choice by
  number or label, ``sim``, ``R$ 1.234,56``, ``(35) 99839-1153``...), and
  :func:`invalid_answers` draws what a field must refuse.
- **Scores.** :func:`scores` and :func:`typed_scores` ("nota 9", "9/10", "dez").

Strategies that are expensive to build (a form's validators, hypothesis-jsonschema's
canonicalised schemas) are built once per process and kept.

Example::

    from hypothesis import given
    from civic.testing import strategies as cs

    @given(cpf=cs.valid_cpfs(), typed=cs.st.data())
    def test_cpf_field_accepts_any_typing(cpf, typed):
        text = typed.draw(cs.typed_cpfs(cpf))
        assert civic.formats.normalise("cpf", text) == cpf
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning

from civic import formats
from civic.text import fold, normalise

if TYPE_CHECKING:
    import jsonschema

    from civic.forms import FormRunner
    from civic.texts import Texts

__all__ = [
    "CPF_STYLES",
    "GIVEN_NAMES",
    "IDENTITY_TEMPLATES",
    "INVISIBLE",
    "NASTY_TEXTS",
    "SURNAMES",
    "brazilian_names",
    "citizen_messages",
    "cnpj_check_digits",
    "command_words",
    "cpf_check_digits",
    "field_values",
    "form_answers",
    "format_values",
    "formatted_cnpj",
    "formatted_cpf",
    "hostile_messages",
    "identity_messages",
    "invalid_answer_texts",
    "invalid_answers",
    "invalid_cnpjs",
    "invalid_cpfs",
    "nasty_texts",
    "portuguese_messages",
    "reference_check_digits",
    "scores",
    "st",
    "typed_answer",
    "typed_answers",
    "typed_cnpjs",
    "typed_cpfs",
    "typed_format_value",
    "typed_scores",
    "valid_cnpjs",
    "valid_cpfs",
    "wrong_check_digit_cnpjs",
    "wrong_check_digit_cpfs",
]

_DIGITS = "0123456789"
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Invisible characters people's phones and copy-paste put inside numbers.
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f")
_FULLWIDTH = str.maketrans(_DIGITS, "０１２３４５６７８９")


# -- CPF ------------------------------------------------------------------------------


def cpf_check_digits(base: str) -> str:
    """The two check digits of nine CPF ``base`` digits, from the Receita's rule
    (weights 10..2, then 11..2; a remainder of 10 gives 0)."""
    digits = [int(d) for d in base]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        rest = (total * 10) % 11
        digits.append(0 if rest == 10 else rest)
    return "".join(map(str, digits[9:]))


#: The former name of :func:`cpf_check_digits`.
reference_check_digits = cpf_check_digits


@st.composite
def valid_cpfs(draw: st.DrawFn) -> str:
    """Eleven digits of a CPF the Receita could issue (not all digits equal)."""
    base = draw(st.text(_DIGITS, min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1))
    return base + cpf_check_digits(base)


@st.composite
def wrong_check_digit_cpfs(draw: st.DrawFn) -> str:
    """Eleven digits whose check digits do not match (and not all digits equal)."""
    cpf = draw(valid_cpfs())
    position = draw(st.sampled_from([9, 10]))
    wrong = draw(st.sampled_from([d for d in _DIGITS if d != cpf[position]]))
    result = cpf[:position] + wrong + cpf[position + 1 :]
    if len(set(result)) == 1 or result[:9] + cpf_check_digits(result[:9]) == result:
        return cpf[:9] + ("00" if cpf[9:] != "00" else "11")
    return result


def invalid_cpfs() -> st.SearchStrategy[str]:
    """Digits that are not a CPF: wrong check digits, all digits equal
    (``111.111.111-11`` passes the check-digit rule but is never issued), or ten or
    twelve digits."""
    return st.one_of(
        wrong_check_digit_cpfs(),
        st.sampled_from(_DIGITS).map(lambda d: d * 11),
        valid_cpfs().map(lambda cpf: cpf[:10]),
        valid_cpfs().map(lambda cpf: cpf + "0"),
    )


def formatted_cpf(digits: str, style: int) -> str:
    """The CPF written in one of the ways people write it (``style`` 0 to 5): digits
    only, ``529.982.247-25``, ``529 982 247 25``, ``529982247-25``, ``529.982.247.25``,
    ``529.982.247 - 25``."""
    d = digits
    return [
        d,
        f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}",
        f"{d[:3]} {d[3:6]} {d[6:9]} {d[9:]}",
        f"{d[:9]}-{d[9:]}",
        f"{d[:3]}.{d[3:6]}.{d[6:9]}.{d[9:]}",
        f"{d[:3]}.{d[3:6]}.{d[6:9]} - {d[9:]}",
    ][style]


#: The styles of :func:`formatted_cpf`.
CPF_STYLES = st.integers(0, 5)


def typed_cpfs(cpfs: str | st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """A CPF (``cpfs``: digits, or a strategy of them; default :func:`valid_cpfs`) as a
    citizen types it: any :func:`formatted_cpf` style, sometimes in fullwidth digits, with
    zero-width characters inside, with spaces around."""
    source = _strategy(cpfs, valid_cpfs)
    return st.tuples(source, CPF_STYLES).map(lambda pair: formatted_cpf(*pair)).flatmap(_typed)


# -- CNPJ -----------------------------------------------------------------------------


def _cnpj_value(char: str) -> int:
    """A CNPJ character's value: its ASCII code minus 48 (``0``-``9`` are 0-9, ``A`` is
    17, ``Z`` is 42), as IN RFB 2.229/2024 defines it for the alphanumeric CNPJ."""
    return ord(char) - 48


def cnpj_check_digits(base: str) -> str:
    """The two check digits of twelve CNPJ ``base`` characters (digits or upper-case
    letters), modulo 11 with weights 5..2, 9..2 then 6..2, 9..2 (IN RFB 2.229/2024; for a
    numeric base the rule is the classic one)."""
    values = [_cnpj_value(char) for char in base]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        values.append(0 if rest < 2 else 11 - rest)
    return f"{values[12]}{values[13]}"


@st.composite
def valid_cnpjs(draw: st.DrawFn, alphanumeric: bool | None = None) -> str:
    """Fourteen characters of a CNPJ: numeric (``alphanumeric=False``), alphanumeric
    (``True``: letters among the first twelve, as issued from July 2026) or either
    (``None``). Never all characters equal."""
    if alphanumeric is None:
        alphanumeric = draw(st.booleans())
    alphabet = _ALPHANUMERIC if alphanumeric else _DIGITS
    base = draw(st.text(alphabet, min_size=12, max_size=12).filter(lambda b: len(set(b)) > 1))
    if alphanumeric and base.isdigit():
        base = draw(st.sampled_from(_ALPHANUMERIC[10:])) + base[1:]
    return base + cnpj_check_digits(base)


@st.composite
def wrong_check_digit_cnpjs(draw: st.DrawFn) -> str:
    """Fourteen characters whose check digits do not match."""
    cnpj = draw(valid_cnpjs())
    position = draw(st.sampled_from([12, 13]))
    wrong = draw(st.sampled_from([d for d in _DIGITS if d != cnpj[position]]))
    return cnpj[:position] + wrong + cnpj[position + 1 :]


def invalid_cnpjs() -> st.SearchStrategy[str]:
    """Characters that are not a CNPJ: wrong check digits, all equal, one short, or a
    letter where the check digits go."""
    return st.one_of(
        wrong_check_digit_cnpjs(),
        st.sampled_from(_DIGITS).map(lambda d: d * 14),
        valid_cnpjs().map(lambda cnpj: cnpj[:13]),
        valid_cnpjs().map(lambda cnpj: cnpj[:12] + "A" + cnpj[13]),
    )


def formatted_cnpj(value: str, style: int) -> str:
    """The CNPJ written in one of the ways people write it (``style`` 0 to 5): as is,
    ``12.345.678/0001-95``, ``12345678/0001-95``, ``12 345 678 0001 95``,
    ``12.345.678.0001-95``, and the masked form in lower case."""
    v = value
    return [
        v,
        f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}",
        f"{v[:8]}/{v[8:12]}-{v[12:]}",
        f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:12]} {v[12:]}",
        f"{v[:2]}.{v[2:5]}.{v[5:8]}.{v[8:12]}-{v[12:]}",
        f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}".lower(),
    ][style]


def typed_cnpjs(cnpjs: str | st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """A CNPJ (``cnpjs``: the value, or a strategy; default :func:`valid_cnpjs`) as a
    citizen types it: any :func:`formatted_cnpj` style, fullwidth digits, zero-width
    characters inside, spaces around."""
    source = _strategy(cnpjs, valid_cnpjs)
    return (
        st.tuples(source, st.integers(0, 5)).map(lambda pair: formatted_cnpj(*pair)).flatmap(_typed)
    )


# -- typing noise ---------------------------------------------------------------------


def _strategy(given: Any, default: Callable[[], st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    if given is None:
        return default()
    return given if isinstance(given, st.SearchStrategy) else st.just(given)


@st.composite
def _noisy(draw: st.DrawFn, text: str) -> str:
    """``text`` with what phones and copy-paste add: fullwidth digits, invisible
    characters between characters, spaces around."""
    if draw(st.booleans()):
        text = text.translate(_FULLWIDTH)
    marks = draw(
        st.lists(st.tuples(st.integers(0, len(text)), st.sampled_from(INVISIBLE)), max_size=3)
    )
    for position, mark in sorted(marks, reverse=True):
        text = text[:position] + mark + text[position:]
    before, after = draw(st.sampled_from([("", ""), (" ", ""), ("", " "), ("  ", "\n")]))
    return before + text + after


def _typed(text: str) -> st.SearchStrategy[str]:
    """``text`` as is, or with :func:`_noisy` typing noise."""
    return st.one_of(st.just(text), _noisy(text))


# -- names and identities ------------------------------------------------------------

GIVEN_NAMES = (
    "Maria", "José", "Ana", "João", "Antônio", "Francisco", "Francisca", "Carlos", "Paulo",
    "Pedro", "Lucas", "Luiz", "Marcos", "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo",
    "Bruno", "Eduardo", "Felipe", "Raimundo", "Rodrigo", "Juliana", "Adriana", "Márcia",
    "Fernanda", "Patrícia", "Aline", "Sandra", "Camila", "Amanda", "Bruna", "Jéssica",
    "Letícia", "Júlia", "Luciana", "Vanessa", "Mariana", "Gabriela", "Vitória", "Larissa",
    "Cláudia", "Beatriz", "Rita", "Luana", "Sônia", "Renata", "Eliane", "Josefa", "Benedito",
    "Sebastião", "Conceição", "Aparecida", "Thiago", "Matheus", "Kauã", "Ýgor", "Wéslley",
    "Maria Eduarda", "João Vitor", "Ana Clara", "Luiz Henrique", "Maria das Graças",
)  # fmt: skip
SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
    "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
    "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira",
    "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves",
    "Santana", "Teixeira", "Araújo", "Conceição", "Assunção", "Magalhães", "Brandão",
    "Sant'Anna", "D'Ávila", "Pinto", "Cavalcanti", "Bezerra", "Figueiredo", "Guimarães",
)  # fmt: skip
PARTICLES = ("da", "de", "do", "das", "dos", "e")


def _unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@st.composite
def brazilian_names(draw: st.DrawFn, *, typed: bool = True) -> str:
    """A Brazilian full name: one or two given names, one to three surnames with the
    usual particles inside ("Maria das Graças dos Santos Silva"). With ``typed`` it is
    sometimes written without accents, in lower case or in capitals, as people type it."""
    given = draw(st.sampled_from(GIVEN_NAMES))
    surnames = draw(st.lists(st.sampled_from(SURNAMES), min_size=1, max_size=3, unique=True))
    words = [given]
    for surname in surnames:
        particle = draw(st.sampled_from(("", "", *PARTICLES)))
        words += [particle, surname] if particle else [surname]
    name = " ".join(words)
    if typed:
        name = draw(st.sampled_from([name, name, _unaccented(name), name.lower(), name.upper()]))
    return name


#: How people wrap "name and CPF" in a message (``{n}`` the name, ``{c}`` the CPF).
IDENTITY_TEMPLATES = (
    "{n} {c}",
    "{c} {n}",
    "{n}, {c}",
    "meu nome é {n}, cpf {c}",
    "Nome: {n} CPF: {c}",
    "CPF {c} - {n}",
    "  {n}\n{c}  ",
    "Olá, sou {n} e meu cpf é {c}",
)


def identity_messages(
    names: st.SearchStrategy[str] | None = None, cpfs: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[tuple[str, str, str]]:
    """``(message, name, cpf digits)``: a message giving a name and a valid CPF in one
    of :data:`IDENTITY_TEMPLATES`, the CPF in one of :func:`formatted_cpf`'s styles."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str, str]:
        name = draw(names if names is not None else brazilian_names(typed=False))
        digits = draw(cpfs if cpfs is not None else valid_cpfs())
        typed = formatted_cpf(digits, draw(CPF_STYLES))
        template = draw(st.sampled_from(IDENTITY_TEMPLATES))
        return template.format(n=name, c=typed), name, digits

    return build()


# -- messages -------------------------------------------------------------------------

_REQUESTS = (
    "Bom dia, gostaria de saber como tirar a segunda via do IPTU",
    "Tem um buraco enorme na rua {place}, quase caí de moto",
    "a lâmpada do poste da {place} está queimada faz uma semana",
    "Comprei uma geladeira na {shop} e ela parou de funcionar",
    "quero reclamar de uma cobrança indevida no meu cartão",
    "Meu filho fez 18 anos, como faz o alistamento militar?",
    "Perdi meu certificado de reservista, preciso da segunda via",
    "qual o horário de atendimento?",
    "onde fica a casa do cidadão?",
    "O lixo não é recolhido na {place} há dez dias",
    "preciso falar com alguém sobre o CadÚnico",
    "a loja {shop} não quer trocar o produto com defeito",
    "Boa tarde! Vocês abrem sábado?",
    "Oi",
    "olá, tudo bem?",
    "sim",
    "não",
    "obrigada",
    "Quero registrar uma denúncia de som alto na {place}",
    "Fiz uma compra pela internet e me arrependi",
    "Minha encomenda não chegou e a {shop} não responde",
)
_PLACES = ("Rua das Flores", "Avenida Brasil", "Praça da Matriz", "Rua XV de Novembro", "Centro")
_SHOPS = ("Loja Exemplo", "Magazine Tal", "Eletro Sul Ltda.", "Mercado Bom Preço")


@st.composite
def portuguese_messages(draw: st.DrawFn) -> str:
    """An ordinary message a citizen sends: a request, a greeting, a yes or no, as typed
    (with or without accents, any case)."""
    template = draw(st.sampled_from(_REQUESTS))
    text = template.format(place=draw(st.sampled_from(_PLACES)), shop=draw(st.sampled_from(_SHOPS)))
    return draw(st.sampled_from([text, text, _unaccented(text), text.lower(), text.upper()]))


#: Fixed messages that stress a parser or a database.
NASTY_TEXTS: tuple[str, ...] = (
    "",
    "   ",
    "\n\t\r\n",
    "\u200b\u200d\ufeff",
    "'; DROP TABLE message; --",
    "Robert'); DELETE FROM citizen WHERE ('1'='1",
    "1 OR 1=1",
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "**negrito** _itálico_ ~tachado~ ```código```",
    "[clique aqui](javascript:alert(1))",
    "{{7*7}} ${jndi:ldap://exemplo/a} %s%s%n {0}",
    "😀🎉🇧🇷" * 50,
    "👨\u200d👩\u200d👧\u200d👦 família",
    "\u202eoãçamrofni\u202c",
    "\u200fמה שלומך\u200f مرحبا",
    "Z̸̡̧a̷̛͜l̴̨͘g̵̢̛o̷̧͝ ̶̨̛t̵̡̛e̷̢͠x̸̢̛t̸̨͘o̷̡̕",
    "ＭＡＲＩＡ　５２９．９８２．２４７－２５",
    "\x00null\x00byte",
    "\ud800 surrogate \udfff",
    "\x1b[31mvermelho\x1b[0m",
    "x" * 20_000,
    "9" * 5_000,
    ("palavra " * 32_000).strip(),
)


@st.composite
def hostile_messages(draw: st.DrawFn) -> str:
    """A message that stresses a parser or a database: empty or blank, invisible only,
    SQL, markup and template syntax, emoji (joined ones too), right-to-left text and
    overrides, combining marks, fullwidth characters, NUL and control characters, lone
    surrogates, very long lines (up to 250 KB), or any text at all."""
    fixed = st.sampled_from(NASTY_TEXTS)
    mixed = st.builds(
        lambda a, b, c: a + b + c,
        st.sampled_from(NASTY_TEXTS[:20]),
        st.sampled_from((*INVISIBLE, "\u202e", "\u2066", "\x00", "")),
        portuguese_messages(),
    )
    return draw(st.one_of(fixed, mixed, st.text(max_size=300)))


def citizen_messages() -> st.SearchStrategy[str]:
    """What a citizen might send at any point: ordinary Portuguese (accents or not),
    hostile input, or arbitrary text."""
    return st.one_of(portuguese_messages(), hostile_messages())


#: A smaller mix of :data:`NASTY_TEXTS` (no 250 KB line) and arbitrary text, for tests
#: that send many messages.
nasty_texts = st.one_of(
    st.sampled_from(
        [
            "",
            "   ",
            "\u200b\u200d\ufeff",
            "'; DROP TABLE message; --",
            "Robert'); DELETE FROM citizen WHERE ('1'='1",
            "😀🎉🇧🇷" * 50,
            "x" * 20_000,
            "\x00null\x00byte",
        ]
    ),
    st.text(max_size=200),
)


# -- scores ---------------------------------------------------------------------------

_SCORE_WORDS = (
    "zero",
    "um",
    "dois",
    "três",
    "quatro",
    "cinco",
    "seis",
    "sete",
    "oito",
    "nove",
    "dez",
)
_SCORE_TEMPLATES = (
    "{n}",
    "nota {n}",
    "{n}/{max}",
    "nota: {n}!",
    "{n} de {max}",
    "Dou {n}",
    "{n}!!",
)


def scores(scale_min: int = 0, scale_max: int = 10) -> st.SearchStrategy[int]:
    """A score on the city's scale (0 to 10, or 1 to 5)."""
    return st.integers(scale_min, scale_max)


@st.composite
def typed_scores(draw: st.DrawFn, scale_min: int = 0, scale_max: int = 10) -> tuple[str, int]:
    """``(message, score)``: a score as people answer the rating question: ``9``,
    ``nota 9``, ``9/10``, ``nota: 9!``, ``9 de 10``, or in words (``dez``, ``nota oito``)."""
    score = draw(scores(scale_min, scale_max))
    if score < len(_SCORE_WORDS) and draw(st.booleans()):
        word = draw(st.sampled_from([_SCORE_WORDS[score], _SCORE_WORDS[score].upper()]))
        return draw(st.sampled_from([word, f"nota {word}", f"Nota {word}"])), score
    template = draw(st.sampled_from(_SCORE_TEMPLATES))
    return template.format(n=score, max=scale_max), score


# -- formats --------------------------------------------------------------------------

_EMAIL = r"[a-z]{1,10}(\.[a-z]{1,6})?(\+[a-z0-9]{1,4})?@[a-z]{2,12}\.(com|gov|org|net)(\.br)?"


@functools.cache
def _format_strategy(name: str, until: dt.date | None) -> st.SearchStrategy[str]:
    """Normalised values of a civic format (see :func:`format_values`)."""
    if name == "cpf":
        return valid_cpfs()
    if name == "cnpj":
        return valid_cnpjs()
    if name == "cpf-cnpj":
        return st.one_of(valid_cpfs(), valid_cnpjs())
    if name == "cep":
        return st.integers(1_000_000, 99_999_999).map(lambda n: f"{n:08d}")
    if name == "phone":
        areas = st.sampled_from(sorted(formats.AREA_CODES))
        mobile = st.tuples(areas, st.integers(0, 99_999_999)).map(lambda p: f"{p[0]}9{p[1]:08d}")
        landline = st.tuples(areas, st.sampled_from("2345"), st.integers(0, 9_999_999)).map(
            lambda p: f"{p[0]}{p[1]}{p[2]:07d}"
        )
        return st.one_of(mobile, landline)
    if name == "date":
        return st.dates(dt.date(1900, 1, 1), until or dt.date(2100, 12, 31)).map(dt.date.isoformat)
    if name == "money":
        return st.decimals(min_value=0, max_value=10**7, places=2).map(
            lambda d: str(d.quantize(Decimal("0.01")))
        )
    if name == "email":
        return st.from_regex(_EMAIL, fullmatch=True)
    raise KeyError(f"unknown civic format {name!r}; known: {', '.join(formats.FORMATS)}")


def format_values(name: str, *, until: dt.date | None = None) -> st.SearchStrategy[str]:
    """Values of the civic format ``name`` (``cpf``, ``cnpj``, ``cpf-cnpj``, ``cep``,
    ``phone``, ``date``, ``money``, ``email``) in their normalised form, as civic stores
    them: ``"52998224725"``, ``"2024-12-25"``, ``"1234.56"``... Dates are not after
    ``until`` when given (for ``x-civic-not-future`` fields)."""
    return _format_strategy(name, until)


def typed_format_value(name: str, value: str) -> st.SearchStrategy[str]:
    """A normalised ``value`` of format ``name`` as a citizen types it; every text drawn
    normalises back to ``value`` (``civic.formats.normalise(name, text) == value``)."""
    if name == "cpf":
        return typed_cpfs(value)
    if name == "cnpj":
        return typed_cnpjs(value)
    if name == "cpf-cnpj":
        return typed_cpfs(value) if len(value) == 11 else typed_cnpjs(value)
    variants = _FORMAT_TYPINGS.get(name)
    if variants is None:
        return st.just(value)
    return st.sampled_from(variants(value)).flatmap(
        lambda text: _typed(text) if name in ("cep", "phone", "date") else st.just(text)
    )


def _cep_typings(v: str) -> list[str]:
    return [v, f"{v[:5]}-{v[5:]}", f"{v[:2]}.{v[2:5]}-{v[5:]}", f"{v[:5]} {v[5:]}"]


def _phone_typings(v: str) -> list[str]:
    area, number = v[:2], v[2:]
    split = f"{number[:-4]}-{number[-4:]}"
    found = [
        v,
        f"({area}) {split}",
        f"+55 {area} {split}",
        f"+55 ({area}) {split}",
        f"0{area} {split}",
    ]
    if len(number) == 9:
        found.append(f"({area}) {number[0]} {number[1:5]}-{number[5:]}")
    return found


def _date_typings(v: str) -> list[str]:
    day = dt.date.fromisoformat(v)
    return [
        v,
        f"{day:%d/%m/%Y}",
        f"{day.day}/{day.month}/{day.year:04d}",
        f"{day:%d-%m-%Y}",
        f"{day:%d.%m.%Y}",
        f"{day.day:02d} / {day.month:02d} / {day.year:04d}",
    ]


def _money_typings(v: str) -> list[str]:
    whole, cents = v.split(".")
    found = [
        v,
        formats.display_money(v),
        f"{whole},{cents}",
        f"R${whole},{cents}",
        f"{whole},{cents} reais",
    ]
    if cents == "00":
        found += [whole, f"R$ {whole}", f"{whole} reais"]
    return found


def _email_typings(v: str) -> list[str]:
    local, _, domain = v.rpartition("@")
    return [v, f"{local}@{domain.upper()}", f"  {v} "]


_FORMAT_TYPINGS: dict[str, Callable[[str], list[str]]] = {
    "cep": _cep_typings,
    "phone": _phone_typings,
    "date": _date_typings,
    "money": _money_typings,
    "email": _email_typings,
}


# -- form answers ---------------------------------------------------------------------

#: Free text drawn as words, so it reads like an answer.
_WORDS = "^[A-Za-zÀ-ÖØ-öø-ÿ0-9]+( [A-Za-zÀ-ÖØ-öø-ÿ0-9]+)*$"
#: Keywords that constrain a string beyond its format; with any of them a format field
#: is drawn by hypothesis-jsonschema rather than by :func:`format_values` alone.
_STRING_CONSTRAINTS = (
    "pattern",
    "minLength",
    "maxLength",
    "enum",
    "const",
    "not",
    "allOf",
    "anyOf",
)


@functools.cache
def _default_texts() -> Texts:
    from civic.texts import Texts

    return Texts()


@functools.cache
def _default_checker() -> jsonschema.FormatChecker:
    """jsonschema's formats and civic's (the built-in ``formats`` plugin alone)."""
    from civic.forms import build_format_checker
    from civic.plugins import make_manager

    return build_format_checker(make_manager({"CIVIC_LOAD_PLUGINS": "", "CIVIC_BLOCK_PLUGINS": ""}))


@functools.lru_cache(maxsize=256)
def _runner_of(schema_json: str) -> FormRunner:
    from civic.forms import FormRunner

    return FormRunner("form", json.loads(schema_json), _default_texts(), _default_checker())


def _runner(form: Mapping[str, Any] | FormRunner) -> FormRunner:
    from civic.forms import FormRunner

    if isinstance(form, FormRunner):
        return form
    return _runner_of(json.dumps(form, sort_keys=True))


def command_words(texts: Texts | None = None) -> frozenset[str]:
    """Every word or phrase civic reads as a command somewhere (folded): the catalogue's
    word lists (``words.*``) and the form runner's (``form_words_*``). A typed free-text
    answer never is one of them, or it would be read as the command."""
    texts = texts or _default_texts()
    found: set[str] = set()
    for key, value in texts.catalog.items():
        if isinstance(value, tuple):
            found.update(fold(str(word)) for word in value)
        elif key.startswith("form_words_") and isinstance(value, str):
            found.update(fold(word) for word in value.split(","))
    return frozenset(filter(None, found))


def _options(prop: Mapping[str, Any], texts: Texts) -> list[tuple[Any, str]]:
    """A field's choices as the form runner shows them: ``oneOf`` consts, ``enum``, or
    *Sim*/*Não* for a boolean."""
    one_of = prop.get("oneOf")
    if isinstance(one_of, list) and all(isinstance(i, Mapping) and "const" in i for i in one_of):
        return [(item["const"], str(item.get("title", item["const"]))) for item in one_of]
    if "enum" in prop:
        return [(value, str(value)) for value in prop["enum"]]
    if prop.get("type") == "boolean":
        yes, no = texts.get("form_boolean_yes", "Sim"), texts.get("form_boolean_no", "Não")
        return [(True, yes or "Sim"), (False, no or "Não")]
    return []


def _type(prop: Mapping[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):  # JSON Schema allows a list; a civic form names one type
        kind = kind[0] if kind else None
    return kind if isinstance(kind, str) else None


def _is_free_text(prop: Mapping[str, Any], texts: Texts) -> bool:
    return not _options(prop, texts) and "format" not in prop and _type(prop) in (None, "string")


def _generatable(prop: Mapping[str, Any]) -> dict[str, Any]:
    """A field's schema for hypothesis-jsonschema: free text as words, numbers bounded
    (a citizen does not type 10^300)."""
    copied: dict[str, Any] = json.loads(json.dumps(prop))
    copied.pop("title", None)
    copied.pop("description", None)
    kind = _type(copied)
    if kind in (None, "string") and "format" not in copied and "pattern" not in copied:
        copied["pattern"] = _WORDS
        copied.setdefault("type", "string")
    if kind in ("integer", "number"):
        copied.setdefault("minimum", -(10**9))
        copied.setdefault("maximum", 10**9)
    return copied


_FIELD_STRATEGIES: dict[tuple[str, str | None, int], st.SearchStrategy[Any]] = {}


def _field_values(
    prop: Mapping[str, Any],
    runner: FormRunner,
    until: dt.date | None,
    extra: Mapping[str, st.SearchStrategy[str]],
) -> st.SearchStrategy[Any]:
    """Values of one field, built once per field schema and date limit."""
    fmt = prop.get("format")
    until = until if prop.get("x-civic-not-future") else None
    options = _options(prop, runner.texts)
    if options:
        return st.sampled_from([value for value, _ in options])
    key = (json.dumps(prop, sort_keys=True), until.isoformat() if until else None, id(runner.texts))
    if not extra and key in _FIELD_STRATEGIES:
        return _FIELD_STRATEGIES[key]
    strategy: st.SearchStrategy[Any]
    if fmt in formats.FORMATS and not any(word in prop for word in _STRING_CONSTRAINTS):
        strategy = format_values(fmt, until=until)
    elif (
        isinstance(fmt, str)
        and fmt in extra
        and not any(word in prop for word in _STRING_CONSTRAINTS)
    ):
        strategy = extra[fmt]
    else:
        from hypothesis_jsonschema import from_schema

        custom = {fmt: format_values(fmt, until=until)} if fmt in formats.FORMATS else {}
        custom.update(extra)
        with warnings.catch_warnings():  # civic's "date" and "email" are its own on purpose
            warnings.filterwarnings("ignore", "Overriding standard format", HypothesisWarning)
            strategy = from_schema(_generatable(prop), custom_formats=custom).filter(_typeable)
        if _is_free_text(prop, runner.texts):
            commands = command_words(runner.texts)
            strategy = strategy.filter(lambda v: isinstance(v, str) and fold(v) not in commands)
    if not extra:
        _FIELD_STRATEGIES[key] = strategy
    return strategy


def field_values(
    prop: Mapping[str, Any],
    *,
    form: Mapping[str, Any] | FormRunner | None = None,
    today: dt.date | None = None,
    formats: Mapping[str, st.SearchStrategy[str]] | None = None,
) -> st.SearchStrategy[Any]:
    """Valid values of one field (``prop``, its schema), as the form stores them; the
    field alone: a condition of the whole form is not looked at. ``form`` gives the
    city's texts (the labels of a yes-or-no question); the rest is as
    :func:`form_answers`."""
    runner = _runner(form if form is not None else {"title": "", "properties": {}})
    return _field_values(prop, runner, today, dict(formats or {}))


def _typeable(value: Any) -> bool:
    """Whether a citizen can type ``value`` and have it read back unchanged: text without
    surrounding spaces or characters civic removes; a number short enough to type."""
    if isinstance(value, str):
        return bool(value) and normalise(value).strip() == value
    if isinstance(value, float | int) and not isinstance(value, bool):
        return len(format(Decimal(repr(value)), "f")) <= 20
    return True


def form_answers(
    form: Mapping[str, Any] | FormRunner,
    *,
    today: dt.date | None = None,
    formats: Mapping[str, st.SearchStrategy[str]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid answer set for any civic form, as the form stores it (normalised).

    Each field's value is drawn from its own schema: choices among its options, civic
    formats from :func:`format_values`, everything else through hypothesis-jsonschema
    (free text as words that are not commands). Optional fields are present or not;
    fields hidden by a condition that does not hold are absent, and fields a condition
    or ``dependentRequired`` makes required are present; the set validates against the
    whole form.

    :param form: a form (its JSON Schema) or the engine's :class:`~civic.forms.FormRunner`
        of it (``harness.form_runner("procon", "reclamacao")``: the city's texts and every
        plugin's formats).
    :param today: the city's date; dates of ``x-civic-not-future`` fields are not after it.
    :param formats: strategies of normalised values for formats a plugin registers
        (civic's own are known).
    """
    runner = _runner(form)
    extra = dict(formats or {})
    properties = runner.schema.get("properties", {})

    @st.composite
    def answers(draw: st.DrawFn) -> dict[str, Any]:
        data: dict[str, Any] = {}

        def value_of(name: str) -> Any:
            return draw(_field_values(properties[name], runner, today, extra), label=name)

        for name in properties:
            if not runner.visible(name, data):
                continue
            if runner.is_required(name, data) or draw(st.booleans(), label=f"{name}?"):
                data[name] = value_of(name)
        for _ in range(len(properties)):  # until no condition changes any more
            hidden = [name for name in data if not runner.visible(name, data)]
            missing = [
                name
                for name in properties
                if name not in data
                and runner.visible(name, data)
                and runner.is_required(name, data)
            ]
            if not hidden and not missing:
                break
            for name in hidden:
                del data[name]
            for name in missing:
                data[name] = value_of(name)
        if not runner.validator.is_valid(data):
            from hypothesis import assume

            assume(False)
        return data

    return answers()


def typed_answer(
    prop: Mapping[str, Any], value: Any, *, texts: Texts | None = None
) -> st.SearchStrategy[str]:
    """``value`` of the field ``prop`` (its schema) written as a citizen would write it.

    A choice by its number (``2``, ``opção 2``) or its label (any case, accents or not);
    a boolean as ``sim``/``não``/``s``/``n`` or its number; a format value in its usual
    typings (:func:`typed_format_value`); an integer with thousands dots (``1.234``) or,
    up to ten, in words (``cinco``); a number with a decimal comma (``3,5``); free text as
    is, or with spaces around. The form runner reads each text drawn as ``value``.
    """
    texts = texts or _default_texts()
    options = _options(prop, texts)
    if options:
        return _typed_choice(options, value, texts, boolean=_type(prop) == "boolean")
    fmt = prop.get("format")
    if fmt in formats.FORMATS and isinstance(value, str):
        return typed_format_value(fmt, value)
    kind = _type(prop)
    if kind == "integer" and isinstance(value, int):
        found = [str(value), f"{value:,}".replace(",", ".")]
        if 0 <= value < len(_SCORE_WORDS):
            found.append(_SCORE_WORDS[value])
        return st.sampled_from(found)
    if kind == "number" and isinstance(value, int | float):
        text = format(Decimal(repr(value)), "f").replace(".", ",")
        return st.just(text.removesuffix(",0"))
    text = str(value)
    return st.sampled_from([text, f"  {text} ", f"{text}\n"])


def _typed_choice(
    options: list[tuple[Any, str]], value: Any, texts: Texts, *, boolean: bool
) -> st.SearchStrategy[str]:
    number = next(
        i
        for i, (const, _) in enumerate(options, 1)
        if const == value and type(const) is type(value)
    )
    label = options[number - 1][1]
    found = [str(number), f"opção {number}", f"Opção {number}"]
    folded_labels = [fold(other) for _, other in options]
    folded = fold(label)
    commands = command_words(texts) - {fold(other) for _, other in options}
    unique = folded_labels.count(folded) == 1 and not folded.isdigit() and folded
    if unique and folded not in commands:
        found += [label, label.upper(), label.lower(), _unaccented(label), f" {label} "]
    if boolean:
        found += ["sim", "s", "Sim!"] if value is True else ["não", "nao", "n", "Não."]
    return st.sampled_from(found)


def typed_answers(
    form: Mapping[str, Any] | FormRunner, answers: Mapping[str, Any]
) -> st.SearchStrategy[dict[str, str]]:
    """For each answer of :func:`form_answers`, the text a citizen types for it."""
    runner = _runner(form)
    properties = runner.schema.get("properties", {})
    return st.fixed_dictionaries(
        {
            name: typed_answer(properties[name], value, texts=runner.texts)
            for name, value in answers.items()
        }
    )


def invalid_answer_texts(
    prop: Mapping[str, Any], *, today: dt.date | None = None, texts: Texts | None = None
) -> list[str]:
    """Texts the field ``prop`` (its schema) must refuse, typed the way citizens get
    them wrong: a choice that is not offered, a CPF with wrong check digits, the 31st of
    February, a date after ``today`` where the future is refused, an ambiguous amount
    (``12,345``), a number outside the limits, text shorter or longer than allowed.

    ``[]`` for a field any text can answer (free text without limits): such a field has
    nothing to refuse but the empty message, which civic answers before the form sees
    it. No text returned is a command word (cancel, skip, menu...).
    """
    texts = texts or _default_texts()
    commands = command_words(texts)
    found = _invalid_texts(prop, today, texts)
    return [text for text in dict.fromkeys(found) if fold(text) not in commands]


def invalid_answers(
    prop: Mapping[str, Any], *, today: dt.date | None = None, texts: Texts | None = None
) -> st.SearchStrategy[str]:
    """:func:`invalid_answer_texts` as a strategy (``st.nothing()`` when there is none)."""
    found = invalid_answer_texts(prop, today=today, texts=texts)
    return st.sampled_from(found) if found else st.nothing()


def _invalid_texts(prop: Mapping[str, Any], today: dt.date | None, texts: Texts) -> list[str]:
    options = _options(prop, texts)
    if options:
        taken = {fold(label) for _, label in options} | {fold(str(v)) for v, _ in options}
        count = len(options)
        candidates = ["0", str(count + 1), str(count + 7), f"opção {count + 1}", "xyzzy", "talvez"]
        return [text for text in candidates if fold(text) not in taken]
    found: list[str] = []
    fmt = prop.get("format")
    found += _INVALID_FORMATS.get(fmt, [])
    if fmt == "date" and prop.get("x-civic-not-future") and today is not None:
        future = today + dt.timedelta(days=40)
        found.append(f"{future:%d/%m/%Y}")
    kind = _type(prop)
    if kind in ("integer", "number"):
        found.append("abc")
        if kind == "integer":
            found.append("1,5")
        found += _out_of_range(prop)
    if kind in (None, "string") and not fmt:
        low, high = prop.get("minLength"), prop.get("maxLength")
        if isinstance(low, int) and low > 1:
            found.append("x" * (low - 1))
        if isinstance(high, int) and high < 9_000:
            long = ("palavra " * (high // 8 + 2))[: high + 1]
            found.append(long[:-1] + "x" if long.endswith(" ") else long)
    return found


def _out_of_range(prop: Mapping[str, Any]) -> list[str]:
    found = []
    step = 1 if _type(prop) == "integer" else Decimal("0.5")
    for key, sign in (
        ("maximum", 1),
        ("exclusiveMaximum", 0),
        ("minimum", -1),
        ("exclusiveMinimum", 0),
    ):
        limit = prop.get(key)
        if isinstance(limit, int | float) and not isinstance(limit, bool):
            beyond = Decimal(str(limit)) + sign * step
            if key.startswith("exclusive"):
                beyond = Decimal(str(limit))
            found.append(format(beyond, "f").replace(".", ","))
    return found


_INVALID_FORMATS: dict[str | None, list[str]] = {
    "cpf": ["529.982.247-24", "111.111.111-11", "123", "529.982.247-2X"],
    "cnpj": ["11.222.333/0001-80", "11.111.111/1111-11", "11.222.333/0001", "12345"],
    "cpf-cnpj": ["529.982.247-24", "11.222.333/0001-80", "12345", "111.111.111-11"],
    "cep": ["00000-000", "1234", "376400000", "CEP"],
    "phone": ["123", "(00) 99999-9999", "(35) 1234-5678", "(35) 8 9839-1153"],
    "date": ["31/02/2020", "32/01/2020", "2020", "ontem à tarde"],
    "money": ["12,345", "R$ 1,2,3", "-5", "0,001", "cinquenta conto"],
    "email": ["maria@", "@exemplo.com", "maria exemplo.com", "maria@@exemplo.com"],
}
