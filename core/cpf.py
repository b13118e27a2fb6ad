"""CPF numbers: finding one in free text, validating, masking and keyed hashing.

python-stdnum checks the digits; we also refuse CPFs whose digits are all equal
(``111.111.111-11`` passes the checksum, but the Receita Federal never issues them).
"""

from __future__ import annotations

import hashlib
import hmac
import re

import attrs
from stdnum.br import cpf as stdnum_cpf

from civic.text import remove_zero_width, strip_invisible

# A run of digits possibly broken by dots, dashes, slashes or spaces (as people type CPFs).
_DIGIT_RUN = re.compile(r"\d+(?:[.,\-/ ]{1,3}\d+)*")


@attrs.frozen
class CpfProblem:
    """Why a text holds no usable CPF. ``code`` is stable; ``digits`` what was found."""

    code: str  # "missing", "length", "repeated", "check_digits"
    digits: str = ""


def find_cpf(text: str) -> tuple[str, tuple[int, int]] | CpfProblem:
    """Find the CPF in ``text``.

    Returns the 11 digits and the span they occupy, or a :class:`CpfProblem` describing
    the closest thing to a CPF found (so the citizen can be told what is wrong).
    """
    text = strip_invisible(text)
    problem: CpfProblem | None = None
    for match in _DIGIT_RUN.finditer(text):
        for digits in _candidates(match.group()):
            if len(digits) != 11:
                if problem is None and len(digits) >= 8:
                    problem = CpfProblem("length", digits)
                continue
            invalid = validate(digits)
            if invalid is None:
                return digits, match.span()
            if problem is None or problem.code == "length":
                problem = invalid
    return problem or CpfProblem("missing")


def _candidates(run: str) -> list[str]:
    """The digits of a run, and of each window of its space-separated parts with 11 digits
    (``52998224725 35998391153`` holds two numbers, not one of 22 digits)."""
    whole = re.sub(r"\D", "", run)
    parts = [re.sub(r"\D", "", part) for part in re.split(r"\s|,\s*", run) if part]
    if len(whole) == 11 or len(parts) == 1:
        return [whole]
    windows = []
    for start in range(len(parts)):
        total = ""
        for part in parts[start:]:
            total += part
            if len(total) >= 11:
                if len(total) == 11:
                    windows.append(total)
                break
    return windows or [whole]


def validate(digits: str) -> CpfProblem | None:
    """``None`` when the 11 ``digits`` are a CPF the Receita could have issued."""
    if len(digits) != 11 or not digits.isdigit():
        return CpfProblem("length", digits)
    if len(set(digits)) == 1:
        return CpfProblem("repeated", digits)
    if not stdnum_cpf.is_valid(digits):
        return CpfProblem("check_digits", digits)
    return None


def complete(base: str) -> str:
    """The nine ``base`` digits followed by their two check digits (for fictitious CPFs
    in examples and benchmarks)."""
    digits = [int(d) for d in base]
    for start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(start, 1, -1), strict=False))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


def mask(digits: str) -> str:
    """The display form that hides the first three and the check digits: ``***.982.247-**``."""
    return f"***.{digits[3:6]}.{digits[6:9]}-**"


def formatted(digits: str) -> str:
    """``529.982.247-25``."""
    return stdnum_cpf.format(digits)


def keyed_hash(digits: str, secret: bytes) -> str:
    """HMAC-SHA256 of the digits with the instance secret: recognises, never reveals."""
    return hmac.new(secret, digits.encode("ascii"), hashlib.sha256).hexdigest()


def redact(text: str) -> str:
    """``text`` with every valid CPF replaced by its mask, for the message log.

    The whole text is searched. Zero-width characters are removed only when one hides a
    CPF; nothing else in the text changes.
    """

    def masked(match: re.Match[str]) -> str:
        run = match.group()
        for digits in _candidates(run):
            if validate(digits) is None:
                spread = r"[.,\-/ ]{0,3}".join(digits)
                run = re.sub(spread, mask(digits), run, count=1)
        return run

    redacted = _DIGIT_RUN.sub(masked, text)
    visible = remove_zero_width(redacted)
    if visible != redacted and _DIGIT_RUN.sub(masked, visible) != visible:
        return _DIGIT_RUN.sub(masked, visible)
    return redacted
