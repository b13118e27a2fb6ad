"""The conversation state machine: the states and the transitions between them."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a conversation stands. Stored as its string value."""

    IDENTIFYING = "identifying"
    CHOOSING = "choosing_department"
    DEPARTMENT = "in_department"
    FORM = "filling_form"
    HUMAN = "waiting_human"
    AGENT = "with_agent"
    OFFERING = "offering_help"
    RATING = "rating"
    CLOSED = "closed"


#: Every move the engine makes; staying in the same state is always legal. Every open
#: state can be closed by expiry (``abandoned``).
TRANSITIONS: dict[State, frozenset[State]] = {
    # Identified: to the menu or a pinned department. "atendente": to the team.
    State.IDENTIFYING: frozenset({State.CHOOSING, State.DEPARTMENT, State.HUMAN, State.CLOSED}),
    # A city that asks the CPF only where needed comes back here from the menu.
    State.CHOOSING: frozenset(
        {State.IDENTIFYING, State.DEPARTMENT, State.HUMAN, State.RATING, State.CLOSED}
    ),
    State.DEPARTMENT: frozenset(
        {State.CHOOSING, State.FORM, State.HUMAN, State.OFFERING, State.RATING, State.CLOSED}
    ),
    State.FORM: frozenset(
        {State.CHOOSING, State.DEPARTMENT, State.HUMAN, State.OFFERING, State.RATING, State.CLOSED}
    ),
    # Waiting in the queue: an attendant takes it; the citizen may leave for the menu.
    State.HUMAN: frozenset(
        {
            State.IDENTIFYING,
            State.CHOOSING,
            State.DEPARTMENT,
            State.AGENT,
            State.RATING,
            State.CLOSED,
        }
    ),
    # With an attendant: released or transferred back to a queue, closed to the survey.
    State.AGENT: frozenset({State.HUMAN, State.RATING, State.CLOSED}),
    State.OFFERING: frozenset(
        {
            State.IDENTIFYING,
            State.CHOOSING,
            State.DEPARTMENT,
            State.HUMAN,
            State.RATING,
            State.CLOSED,
        }
    ),
    # Before giving a score, a citizen may still go back to the menu or ask for a person.
    # (and, when an attendant closed before the citizen identified, to identification).
    State.RATING: frozenset(
        {State.IDENTIFYING, State.CHOOSING, State.DEPARTMENT, State.HUMAN, State.CLOSED}
    ),
    State.CLOSED: frozenset(),
}

#: States in which the conversation waits for the team (the bot stays quiet).
WITH_TEAM = frozenset({State.HUMAN, State.AGENT})


class IllegalTransition(RuntimeError):
    """Raised when code tries a move the state machine does not allow."""


def check_transition(old: State, new: State) -> None:
    """Raise :class:`IllegalTransition` unless moving from ``old`` to ``new`` is legal."""
    if new != old and new not in TRANSITIONS[old]:
        raise IllegalTransition(f"{old.value} -> {new.value}")
