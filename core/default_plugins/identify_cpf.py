"""Identify the citizen from "name followed by CPF", as the Casa do Cidadão asked."""

from __future__ import annotations

import re

from civic import cpf, hookimpl
from civic.reading import read
from civic.text import REQUEST_WORDS, fold
from civic.texts import Texts
from civic.values import Identity, NotIdentified

_PARTICLES = frozenset(["da", "de", "do", "das", "dos", "e", "di", "du"])
#: Words after which a name comes ("sou", "me chamo", "meu nome é").
_NAME_MARKERS = frozenset(["sou", "chamo", "nome"])
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SEGMENT_BREAK = re.compile(r"[|,;:.!?\n()\[\]]+|\s[-–—]\s|\d[\d\s()+-]*")


def extract_name(before: str, after: str, fillers: frozenset[str]) -> str:
    """The name typed around the CPF: ``before`` and ``after`` are the text on each side.

    Segments (split at punctuation and numbers; those without a word left out) are tried
    before the CPF first, nearest first, as the name is asked "followed by the CPF"; then
    after it. In "Maria da Silva 529.982.247-25 a geladeira nunca chegou" the name is
    Maria's. The ``fillers`` around a name ("meu nome é", "cpf", "oi") are left out.
    """
    segments = [*reversed(_SEGMENT_BREAK.split(before)), *_SEGMENT_BREAK.split(after)]
    for segment in segments:
        name = name_in(segment, fillers) if _NAME_WORD.search(segment) else ""
        if len(name.replace(" ", "")) >= 2:
            return tidy_name(name)
    return ""


def name_in(segment: str, fillers: frozenset[str]) -> str:
    """The name in one segment: all its words, or (in a request such as "Maria da Silva
    quero reclamar" or "quero reclamar sou Maria") the words before the request, or
    after the last "sou", "chamo" or "nome"; ``""`` when there is none."""
    tokens = _NAME_WORD.findall(segment)
    folded = [fold(token) for token in tokens]
    asking = [i for i, word in enumerate(folded) if word in REQUEST_WORDS]
    if not asking:
        return _strip(tokens, fillers)
    leading = _strip(tokens[: asking[0]], fillers)
    if leading:
        return leading
    marker = max((i for i, word in enumerate(folded) if word in _NAME_MARKERS), default=-1)
    if marker > asking[-1]:
        return _strip(tokens[marker + 1 :], fillers)
    return ""


def _strip(tokens: list[str], fillers: frozenset[str]) -> str:
    """The tokens without the ``fillers`` at either end, joined."""
    start, end = 0, len(tokens)
    while start < end and fold(tokens[start]) in fillers:
        start += 1
    while end > start and fold(tokens[end - 1]) in fillers:
        end -= 1
    return " ".join(tokens[start:end])


def tidy_name(name: str) -> str:
    """Capitalise a name typed all in lower or upper case (``joão da silva``)."""
    if not name or (name != name.lower() and name != name.upper()):
        return name
    words = name.lower().split()
    return " ".join(
        word if index and word in _PARTICLES else word[:1].upper() + word[1:]
        for index, word in enumerate(words)
    )


@hookimpl(trylast=True)
def identify_citizen(text: str, texts: Texts) -> Identity | NotIdentified:
    reading = read(text)  # idempotent: the text may already be a Reading's
    found = cpf.first_valid(reading.cpfs)
    if found is None:
        return NotIdentified(reason=_problem_text(reading.cpf_problem, texts))
    start, end = found.span
    fillers = texts.words("identity_fillers")
    name = extract_name(reading.text[:start], reading.text[end:], fillers)
    if len(name.replace(" ", "")) < 2:
        return NotIdentified(reason=texts("identify_name_missing"))
    return Identity(name=name[:120], cpf=found.digits)


def _problem_text(problem: cpf.CpfProblem | None, texts: Texts) -> str:
    if problem is None or problem.code == "missing":
        return texts("identify_cpf_missing")
    if problem.code == "length":
        return texts("identify_cpf_length", count=len(problem.digits))
    if problem.code == "repeated":
        return texts("identify_cpf_repeated", cpf=cpf.formatted(problem.digits))
    return texts("identify_cpf_check_digits", cpf=cpf.formatted(problem.digits))
