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
    OFFERING = "offering_help"
    RATING = "rating"
    CLOSED = "closed"


_SERVING = {State.DEPARTMENT, State.FORM, State.HUMAN}

#: Every legal move; staying in the same state is always legal.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.IDENTIFYING: frozenset({State.CHOOSING, State.DEPARTMENT, State.HUMAN, State.CLOSED}),
    State.CHOOSING: frozenset({*_SERVING, State.OFFERING, State.RATING}),
    State.DEPARTMENT: frozenset({State.CHOOSING, *_SERVING, State.OFFERING, State.RATING}),
    State.FORM: frozenset({State.CHOOSING, *_SERVING, State.OFFERING, State.RATING}),
    State.HUMAN: frozenset({State.CHOOSING, *_SERVING, State.OFFERING, State.RATING}),
    State.OFFERING: frozenset({State.CHOOSING, *_SERVING, State.RATING}),
    # Before giving a score, a citizen may still go back to the menu or ask for a person.
    State.RATING: frozenset({State.CHOOSING, State.DEPARTMENT, State.HUMAN, State.CLOSED}),
    State.CLOSED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """Raised when code tries a move the state machine does not allow."""


def check_transition(old: State, new: State) -> None:
    """Raise :class:`IllegalTransition` unless moving from ``old`` to ``new`` is legal."""
    if new != old and new not in TRANSITIONS[old]:
        raise IllegalTransition(f"{old.value} -> {new.value}")
