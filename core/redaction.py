"""Logs and traces never show a CPF or a whole phone number.

:func:`install` puts a :class:`RedactingFilter` on the handlers of the root and ``civic``
loggers; :func:`redacting_writer` wraps pluggy's trace writer. Both mask every
CPF-looking number (:func:`civic.cpf.redact`) and every phone number but its last four
digits (``+55 35 *****-0000``): a last line of defence. The sources come first:
``CIVIC_TRACE_PLUGINS`` prints the shape of hook arguments, never their text
(:func:`trace_hooks`), and civic logs ids and exception types, not what citizens wrote.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from civic import cpf

if TYPE_CHECKING:
    import pluggy

_PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:\+?55[ .-]?)?"  # country
    r"(?:\(\d{2}\)|\d{2})[ .-]?"  # area code
    r"(?:9[ .-]?)?\d{4}[ .-]?\d{4}"  # number
    r"(?!\w)"
)
_DIGIT = re.compile(r"\d")
_FORMATTER = logging.Formatter()


def redact_line(text: str) -> str:
    """``text`` with CPF-looking numbers masked and phone numbers cut to their last four
    digits. Linear time."""
    return _PHONE.sub(_mask_phone, cpf.redact(text))


def _mask_phone(match: re.Match[str]) -> str:
    phone, seen = match.group(), 0
    for index in range(len(phone) - 1, -1, -1):
        seen += phone[index].isdecimal()
        if seen == 4:
            return _DIGIT.sub("*", phone[:index]) + phone[index:]
    return phone


class RedactingFilter(logging.Filter):
    """Masks CPFs and phones in a record's message, exception and stack text.

    The message is formatted here (``record.msg`` becomes the masked message and
    ``record.args`` empty), so every handler after this one sees only the masked text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: show what was given, masked
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact_line(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_line(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_line(record.stack_info)
        return True


def install() -> None:
    """Add a :class:`RedactingFilter` to every handler of the root and ``civic`` loggers
    (once: calling again adds nothing). Handlers added later are not covered."""
    for logger in (logging.getLogger(), logging.getLogger("civic")):
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


#: Fields of a hook's values shown by the trace: what a conversation *is* (its id, state,
#: department), never what a citizen said or is called.
TRACE_FIELDS = frozenset(
    {"id", "state", "department", "pinned_department", "channel", "slug", "form", "kind",
     "status", "author", "duplicate", "truncated", "agent"}
)  # fmt: skip


def describe(value: object, depth: int = 0) -> str:
    """A hook argument or result as ``CIVIC_TRACE_PLUGINS`` prints it: its shape, never
    its text. Numbers, booleans and ``None`` are shown; a string by its length only
    (``str[23]``); an attrs value by its class and the :data:`TRACE_FIELDS` it has (a
    conversation's id, state and department, never its address or name); a
    collection by its type and size. So a trace can follow a conversation without
    holding a CPF, a phone number or anything a citizen wrote."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float):
        return redact_line(repr(value))  # an int may be a CPF or a phone
    if isinstance(value, str):
        return f"str[{len(value)}]"
    if isinstance(value, list | tuple | set | frozenset | dict):
        return f"{type(value).__name__}[{len(value)}]"
    name = type(value).__name__
    fields = getattr(type(value), "__attrs_attrs__", None)
    if fields is None or depth > 0:
        return name
    shown = [
        f"{field.name}={_known(getattr(value, field.name, None), depth)}"
        for field in fields
        if field.name in TRACE_FIELDS
    ]
    return f"{name}({', '.join(shown)})"


def _known(value: object, depth: int) -> str:
    """A :data:`TRACE_FIELDS` value: a state or a slug is shown (at most 40 characters,
    masked), anything else as :func:`describe` shows it."""
    if isinstance(value, str):
        return repr(redact_line(value[:40]))
    return describe(value, depth + 1)


def trace_hooks(
    manager: pluggy.PluginManager, write: Callable[[str], object]
) -> Callable[[], None]:
    """Write one line per hook call (its name and :func:`describe` of each argument) and
    per result to ``write``, as pluggy's ``enable_tracing`` does but without the values.
    Returns the function that stops tracing."""

    depth = 0

    def before(hook_name: str, methods: Sequence[Any], kwargs: Mapping[str, object]) -> None:
        nonlocal depth
        depth += 1
        arguments = ", ".join(f"{key}={describe(value)}" for key, value in kwargs.items())
        write(redact_line(f"{'  ' * depth}{hook_name}({arguments}) [hook]\n"))

    def after(
        outcome: Any, hook_name: str, methods: Sequence[Any], kwargs: Mapping[str, object]
    ) -> None:
        nonlocal depth
        if outcome.exception is None:
            result = outcome.get_result()
            shown = (
                f"[{', '.join(describe(item) for item in result)}]"
                if isinstance(result, list)
                else describe(result)
            )
            write(redact_line(f"{'  ' * depth}finish {hook_name} --> {shown} [hook]\n"))
        else:
            error = type(outcome.exception).__name__
            write(f"{'  ' * depth}finish {hook_name} raised {error} [hook]\n")
        depth -= 1

    return manager.add_hookcall_monitoring(before, after)


def redacting_writer(write: Callable[[str], object]) -> Callable[[str], object]:
    """``write`` (pluggy's trace writer) receiving masked text."""

    def redacted(text: str) -> object:
        return write(redact_line(text))

    return redacted
