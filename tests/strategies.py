"""Hypothesis strategies shared by the tests, each documented with what it draws."""

from __future__ import annotations

from hypothesis import strategies as st

from civic.text import REQUEST_WORDS, fold
from civic.texts import Texts


def reference_check_digits(base: str) -> str:
    """The two CPF check digits of nine ``base`` digits, written from the Receita's rule
    (independently of python-stdnum, so the tests check it rather than trust it)."""
    digits = [int(d) for d in base]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        rest = (total * 10) % 11
        digits.append(0 if rest == 10 else rest)
    return "".join(map(str, digits[9:]))


@st.composite
def valid_cpfs(draw: st.DrawFn) -> str:
    """Eleven digits of a CPF the Receita could issue (not all digits equal)."""
    base = draw(st.text("0123456789", min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1))
    return base + reference_check_digits(base)


@st.composite
def wrong_check_digit_cpfs(draw: st.DrawFn) -> str:
    """Eleven digits whose check digits do not match (and not all digits equal)."""
    cpf = draw(valid_cpfs())
    position = draw(st.sampled_from([9, 10]))
    wrong = draw(st.sampled_from([d for d in "0123456789" if d != cpf[position]]))
    result = cpf[:position] + wrong + cpf[position + 1 :]
    return result if len(set(result)) > 1 else cpf[:9] + "00"


def formatted_cpf(digits: str, style: int) -> str:
    """The CPF written in one of the ways people write it."""
    d = digits
    return [
        d,
        f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}",
        f"{d[:3]} {d[3:6]} {d[6:9]} {d[9:]}",
        f"{d[:9]}-{d[9:]}",
        f"{d[:3]}.{d[3:6]}.{d[6:9]}.{d[9:]}",
        f"{d[:3]}.{d[3:6]}.{d[6:9]} - {d[9:]}",
    ][style]


CPF_STYLES = st.integers(0, 5)

_LETTERS = "abcdefghijklmnopqrstuvwxyzáàâãéêíóôõúüç"
#: Words put around a name ("meu nome é", "cpf"): never a name word in these strategies.
_FILLERS = Texts().words("identity_fillers")
name_words = (
    st.text(_LETTERS, min_size=3, max_size=12)
    .filter(lambda w: fold(w) not in _FILLERS | REQUEST_WORDS)
    .map(str.capitalize)
)

#: Citizen names: one to five capitalised words, accents included, particles inside.
names = st.lists(name_words, min_size=1, max_size=4).flatmap(
    lambda words: st.sampled_from(["", "da", "dos", "de"]).map(
        lambda particle: " ".join(
            [words[0], particle, *words[1:]] if particle and len(words) > 1 else words
        )
    )
)

#: How a citizen may wrap "name and CPF" in a message ({n} name, {c} CPF).
IDENTITY_TEMPLATES = st.sampled_from(
    [
        "{n} {c}",
        "{c} {n}",
        "{n}, {c}",
        "meu nome é {n}, cpf {c}",
        "Nome: {n} CPF: {c}",
        "CPF {c} - {n}",
        "  {n}\n{c}  ",
        "Olá, sou {n} e meu cpf é {c}",
    ]
)

#: Messages that stress a parser or a database: empty, huge, emoji, invisible, SQL.
nasty_texts = st.one_of(
    st.just(""),
    st.just("   "),
    st.just("\u200b\u200d\ufeff"),
    st.just("'; DROP TABLE message; --"),
    st.just("Robert'); DELETE FROM citizen WHERE ('1'='1"),
    st.just("😀🎉🇧🇷" * 50),
    st.just("x" * 20_000),
    st.just("\x00null\x00byte"),
    st.text(max_size=200),
)
