"""Identify the citizen from "name followed by CPF", as the Casa do Cidadão asked."""

from __future__ import annotations

import re

from civic import cpf, hookimpl
from civic.reading import read
from civic.text import REQUEST_WORDS, fold
from civic.texts import Texts
from civic.values import Identity, NotIdentified

# Words people put around their name that are not part of it ("meu nome é ...", "cpf").
_FILLERS = frozenset(
    [
        "a",
        "o",
        "e",
        "eh",
        "é",
        "eu",
        "me",
        "meu",
        "minha",
        "sou",
        "chamo",
        "nome",
        "completo",
        "cpf",
        "numero",
        "número",
        "n",
        "nº",
        "no",
        "do",
        "da",
        "de",
        "segue",
        "aqui",
        "oi",
        "ola",
        "olá",
        "bom",
        "boa",
        "dia",
        "tarde",
        "noite",
        "tudo",
        "bem",
        "meus",
        "dados",
        "sao",
        "são",
    ]
)
_PARTICLES = frozenset(["da", "de", "do", "das", "dos", "e", "di", "du"])
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SEGMENT_BREAK = re.compile(r"[|,;:.!?\n()\[\]]+|\s[-–—]\s|\d[\d\s()+-]*")


def extract_name(text: str) -> str:
    """The most name-like run of words in ``text`` (the CPF already removed)."""
    best: list[str] = []
    for segment in _SEGMENT_BREAK.split(text):
        tokens = _NAME_WORD.findall(segment)
        while tokens and fold(tokens[0]) in _FILLERS:
            tokens.pop(0)
        while tokens and fold(tokens[-1]) in _FILLERS:
            tokens.pop()
        if REQUEST_WORDS & {fold(token) for token in tokens}:
            continue  # "quero reclamar da loja X" is a request, not a name
        if sum(map(len, tokens)) > sum(map(len, best)):
            best = tokens
    return tidy_name(" ".join(best))


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
    name = extract_name(reading.text[:start] + " | " + reading.text[end:])
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
