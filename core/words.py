"""The words a citizen can type at any point, and which of them wins.

Every set holds folded text (see :func:`civic.text.fold`): lower-case, no accents, no
punctuation. :data:`GLOBAL_WORDS` is the one ordered table of the commands that work in
(almost) every state; the engine takes the first entry that matches the message and is
allowed in the conversation's state.
"""

from __future__ import annotations

import re

import attrs

MENU_WORDS = frozenset({"menu", "voltar", "inicio", "menu principal", "voltar ao menu"})
CLOSE_WORDS = frozenset(
    {"encerrar", "sair", "tchau", "finalizar", "fim", "encerrar atendimento", "pode encerrar"}
)
THANKS_WORDS = frozenset(
    {"obrigado", "obrigada", "valeu", "so isso", "era so isso", "ok obrigado", "ok obrigada",
     "obg", "brigado", "brigada", "muito obrigado", "muito obrigada"}
)  # fmt: skip
#: Said after a conversation closed, these are answered but open no new conversation.
AFTER_CLOSE_WORDS = (
    THANKS_WORDS | CLOSE_WORDS | {"ok", "okay", "blz", "beleza", "de nada", "valeu obrigado"}
)
YES_WORDS = frozenset({"sim", "s", "1", "quero", "claro", "yes", "pode ser", "tenho", "ss"})
NO_WORDS = frozenset(
    {"nao", "n", "2", "nao obrigado", "nao obrigada", "so isso", "nada", "era so isso",
     "nao preciso", "no", "e so isso", *THANKS_WORDS}
)  # fmt: skip
COMMENT_SKIP_WORDS = frozenset(
    {"nao", "n", "pular", "nada", "sem comentario", "sem comentarios", "nao obrigado",
     "nao obrigada", "nenhum", "nenhuma", "nao tenho", "2", "nao quero comentar",
     "sem", "nao quero"}
)  # fmt: skip

# Asking for a person, as people write it: "atendente", "quero falar com uma pessoa",
# "tem alguém aí?", "me passa pra um humano". A sentence only counts when it is short
# or says "falar/conversar com" someone: "a loja atendeu mal uma pessoa" is a complaint.
_PERSON = r"(atendente|humano|humana|pessoa|alguem|gente|funcionari[oa]|servidor[a]?|operador[a]?)"
_ASK_PERSON = re.compile(
    rf"\b(falar|conversar|fala|falo|atendimento|passa|passar|transferir|chama|chamar)\b"
    rf"( \w+){{0,3}} \b(com|pra|para|a|o|um|uma)\b( \w+){{0,2}} \b{_PERSON}\b"
)
_ANYONE_THERE = re.compile(r"\b(tem|ha|existe) (alguem|algum atendente|uma pessoa)( ai| ae| la)?\b")
_BARE = frozenset(
    {"atendente", "humano", "um atendente", "uma pessoa", "pessoa", "falar com alguem",
     "atendimento humano", "pessoa de verdade", "quero atendente", "atendente por favor",
     "atendente pfv", "atendente pf"}
)  # fmt: skip


def wants_person(folded: str) -> bool:
    """Whether the (folded) message asks for a person rather than the bot."""
    if not folded:
        return False
    if folded in _BARE:
        return True
    words = folded.split()
    if len(words) > 20:
        return False
    if _ASK_PERSON.search(folded) or _ANYONE_THERE.search(folded):
        return True
    # A short message naming a person: "atendente?", "quero um humano".
    return len(words) <= 4 and any(w in ("atendente", "humano", "atendentes") for w in words)


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
#: 4. ``menu``: back to the main menu (a form left this way says nothing was sent).
GLOBAL_WORDS: tuple[GlobalWord, ...] = (
    GlobalWord("protocol", _ALL_BUT_SURVEY - {"filling_form"}),
    GlobalWord("close", _ALL_BUT_SURVEY),
    GlobalWord("person", _ALL_BUT_SURVEY - {"waiting_human", "with_agent"}),
    GlobalWord("menu", _ALL_BUT_SURVEY - {"identifying"}),
)
