"""Logs and traces never show a CPF or a whole phone number.

:func:`install` puts a :class:`RedactingFilter` on the handlers of the root and ``civic``
loggers; :func:`redacting_writer` wraps pluggy's trace writer. Both mask every
CPF-looking number (:func:`civic.cpf.redact`) and every phone number but its last four
digits (``+55 35 *****-0000``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from civic import cpf

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


def redacting_writer(write: Callable[[str], object]) -> Callable[[str], object]:
    """``write`` (pluggy's trace writer) receiving masked text."""

    def redacted(text: str) -> object:
        return write(redact_line(text))

    return redacted
