"""Hypothesis strategies shared by the tests.

The general ones (CPFs, hostile texts...) are civic's public test kit's
(:mod:`civic.testing.strategies`), re-exported under the names these tests use; the ones
here are about the built-in ``identify_cpf`` plugin's reading of names.
"""

from __future__ import annotations

from hypothesis import strategies as st

from civic.testing import strategies as kit
from civic.testing.strategies import (
    CPF_STYLES,
    formatted_cpf,
    nasty_texts,
    reference_check_digits,
    valid_cpfs,
    wrong_check_digit_cpfs,
)
from civic.text import REQUEST_WORDS, fold
from civic.texts import Texts

__all__ = [
    "CPF_STYLES",
    "IDENTITY_TEMPLATES",
    "formatted_cpf",
    "name_words",
    "names",
    "nasty_texts",
    "reference_check_digits",
    "valid_cpfs",
    "wrong_check_digit_cpfs",
]

_FILLERS = Texts().words("identity_fillers")
_LETTERS = "abcdefghijklmnopqrstuvwxyzáàâãéêíóôõúüç"
name_words = (
    st.text(_LETTERS, min_size=3, max_size=12)
    .filter(lambda w: fold(w) not in _FILLERS | REQUEST_WORDS)
    .map(str.capitalize)
)

#: Citizen names: one to five capitalised words, accents included, particles inside
#: (random letters, so the identification never relies on a list of known names).
names = st.lists(name_words, min_size=1, max_size=4).flatmap(
    lambda words: st.sampled_from(["", "da", "dos", "de"]).map(
        lambda particle: " ".join(
            [words[0], particle, *words[1:]] if particle and len(words) > 1 else words
        )
    )
)

#: How a citizen may wrap "name and CPF" in a message ({n} name, {c} CPF).
IDENTITY_TEMPLATES = st.sampled_from(kit.IDENTITY_TEMPLATES)
