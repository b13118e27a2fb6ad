"""The words a citizen can type at any point, and which of them wins.

The word lists themselves (``words.menu``, ``words.close``, ``words.yes``...) live in the
catalogue (``civic/locales/pt-BR/words.json``), so a city can extend them in its
``[texts]``; read them with ``texts.words("menu")``. :data:`GLOBAL_WORDS` is the one
ordered table of the commands that work in (almost) every state; the engine takes the
first entry that matches the message and is allowed in the conversation's state.
"""

from __future__ import annotations

import re

import attrs

# Asking for a person, as people write it: "atendente", "quero falar com uma pessoa",
# "tem alguém aí?", "me passa pra um humano", "não quero falar com robô". A sentence only
# counts when it asks to talk to someone; "liguei para falar com o atendente e me
# enrolaram" inside a complaint, "a atendente foi ótima" in the survey are not requests.
_TYPOS = re.compile(r"\b(atendende|atendete|atendnte|atemdente|atendenti|atendentr|atedente)\b")
_PERSON = r"(atendente|humano|humana|pessoa|alguem|funcionari[oa]|servidor[a]?|operador)"
_ASK_PERSON = re.compile(
    rf"^(oi |ola |por favor |pfv |pf )*(eu )?(quero|queria|preciso|gostaria de|posso|da pra|"
    rf"tem como|me|pode|poderia)?( \w+){{0,2}} ?\b(falar|conversar|fala|falo|passa|passar|"
    rf"transferir|chama|chamar|chamem|ser atendid[oa])\b( \w+){{0,2}} \b(com|c|pra|para|por)\b"
    rf"( \w+){{0,2}} \b{_PERSON}\b"
)
_ANYONE_THERE = re.compile(
    r"^(oi |ola |ei )?(tem|ha|existe|alguem) ?(alguem|algum atendente|uma pessoa|ai)\b"
)
#: A short, direct request: "quero um atendente", "chama um atendente", "cadê o
#: atendente?", "me transfere para um atendente", "prefiro falar com uma pessoa".
_DIRECT = re.compile(
    r"^(eu )?(quero|queria|preciso de|preciso|prefiro|chama|chame|chamem|cade|me transfere|"
    r"me transfira|me passa|me passe|me encaminha|transfere|passa)( falar)?( com| pra| para)?"
    r"( o| a| um| uma)? (atendente|humano|humana|pessoa|atendimento humano|"
    r"pessoa de verdade|funcionario|funcionaria)( por favor| pfv| pf| agora)?$"
)
_NO_ROBOT = re.compile(
    r"\b(nao quero|cansei de|chega de|para de)( falar| conversar)?( com)?( o| um| esse)? "
    r"(robo|bot|maquina|automatico)\b"
)
_BARE = frozenset(
    {"atendente", "humano", "um atendente", "uma pessoa", "pessoa", "falar com alguem",
     "atendimento humano", "pessoa de verdade", "quero atendente", "atendente por favor",
     "atendente pfv", "atendente pf", "alguem ai", "alguem", "chama alguem", "operador",
     "quero um humano", "um humano", "atendente humano", "quero uma pessoa",
     "quero falar com alguem", "falar com atendente", "falar com um atendente"}
)  # fmt: skip
#: Words that make a short message about an attendant rather than a request for one.
_ABOUT = frozenset(
    {"nao", "reclamar", "reclamacao", "pessimo", "pessima", "ruim", "otimo", "otima",
     "foi", "educado", "educada", "gostei", "obrigado", "obrigada", "nota", "do", "da"}
)  # fmt: skip


def wants_person(folded: str, *, strict: bool = False) -> bool:
    """Whether the (folded) message asks for a person rather than the bot.

    ``strict`` (inside a form's answers and the survey, where people write *about*
    attendants) accepts only an explicit request, never a short mention.
    """
    if not folded:
        return False
    folded = _TYPOS.sub("atendente", folded)
    if folded in _BARE:
        return True
    words = folded.split()
    if len(words) > 16:
        return False
    if _DIRECT.search(folded):
        return True
    if _ASK_PERSON.search(folded) or _ANYONE_THERE.search(folded) or _NO_ROBOT.search(folded):
        return strict is False or len(words) <= 10
    if strict:
        return False
    # A short message naming a person: "atendente?", "quero um atendente por favor".
    return (
        len(words) <= 6
        and any(w in ("atendente", "humano", "atendentes") for w in words)
        and not _ABOUT & set(words)
    )


@attrs.frozen
class GlobalWord:
    """One command of :data:`GLOBAL_WORDS`.

    :param name: the command (``protocol``, ``close``, ``person``, ``menu``).
    :param states: the states in which it is a command; elsewhere the state's own step
        reads the message (a form has its own "voltar", the survey its own "não").
    """

    name: str
    states: frozenset[str]


_ALL_BUT_SURVEY = frozenset(
    {"identifying", "choosing_department", "in_department", "filling_form", "waiting_human",
     "with_agent", "offering_help"}
)  # fmt: skip

#: The global commands, strongest first. The engine tries them in this order:
#: 1. ``protocol``: a protocol number asked about ("status do PROCON-2026-000001") is
#:    answered wherever the citizen is, except inside a form or the survey, whose answers
#:    may contain such numbers.
#: 2. ``close``: "encerrar" ends the conversation (through the survey once identified).
#: 3. ``person``: asking for a person hands over to the team, even inside a form (its
#:    answers so far are kept for the attendant).
#: 4. ``menu``: back to the main menu (a form left this way says nothing was sent; a
#:    citizen waiting in the queue leaves it). With an attendant, "menu" or "voltar" is
#:    a message for the attendant.
GLOBAL_WORDS: tuple[GlobalWord, ...] = (
    GlobalWord("protocol", _ALL_BUT_SURVEY - {"filling_form"}),
    GlobalWord("close", _ALL_BUT_SURVEY),
    GlobalWord("person", _ALL_BUT_SURVEY - {"waiting_human", "with_agent"}),
    GlobalWord("menu", _ALL_BUT_SURVEY - {"identifying", "with_agent"}),
)
