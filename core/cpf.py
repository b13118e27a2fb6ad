"""CPF numbers: finding them in free text, validating, masking and keyed hashing.

One detector, :func:`candidates`, serves identification (:func:`find_cpf`) and redaction
(:func:`redact`): whatever looks like a CPF, valid or not, is found, so whatever is
found is masked. A mistyped CPF is masked too: its first nine digits decide the rest.

A CPF looks like one of these, however it is typed (dots, dashes, slashes, commas,
spaces, invisible or control characters between the digits, digits of any script):

- eleven digits in a row (``52998224725``), phones included: a bare mobile number
  cannot be told from a mistyped CPF;
- eleven digits grouped at the CPF's places (``529.982.247-25``, ``529 982 247 25``,
  ``529982247-25``);
- eleven digits otherwise grouped (``5299 8224 725``), in at most four groups of at least
  two digits, unless the grouping is a phone's (``35 99999-0000``) or starts with a date;
- ten or twelve digits grouped as ``ddd.ddd.ddd-dd`` or ``ddddddddd-dd`` with one digit
  missing or extra in one group (``529.982.247-2``).

Not CPFs: money (``R$ 123.456.789,00``; without the currency sign, ``12.345.678,90``
but not ``123.456.789,00``), a CNPJ (``12.345.678/0001-95``), a CEP (``37640-000``),
dates, phones written as phones (``(35) 99999-0000``, ``35 99999-0000``,
``+55 35 99999-0000``, ``5535999990000``), and loosely grouped digits glued to a word
(``PROCON-2026-00012345``). ``52998224725 35998391153`` holds two numbers, not one of 22
digits: spaces and commas separate numbers, dots, dashes and slashes group one.

The check digits are the Receita Federal's (a test checks them against python-stdnum);
we also refuse CPFs whose digits are all equal (``111.111.111-11`` passes the checksum,
but the Receita never issues them).
The detector makes one pass over the text: linear time, whatever it holds.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
import re
from collections.abc import Iterator, Sequence

import attrs
from stdnum.br import cpf as stdnum_cpf

from civic.text import FORMAT_CLASS, normalise


def _masked_repr(digits: str) -> str:
    return repr(mask(digits))


@attrs.frozen
class CpfProblem:
    """Why a text holds no usable CPF. ``code`` is stable; ``digits`` what was found."""

    code: str  # "missing", "length", "repeated", "check_digits"
    digits: str = attrs.field(default="", repr=_masked_repr)


@attrs.frozen
class CpfCandidate:
    """A CPF-looking number found in a text.

    :param digits: its ASCII digits (eleven, or ten or twelve when mistyped).
    :param span: where it is in the text searched (separators and invisible marks inside).
    :param problem: ``None`` when it is a valid CPF, else why it is not.
    """

    digits: str = attrs.field(repr=_masked_repr)
    span: tuple[int, int]
    problem: CpfProblem | None

    @property
    def masked(self) -> str:
        """What replaces it in a stored or logged text: ``***.982.247-**``."""
        return mask(self.digits)


# -- the detector --------------------------------------------------------------------

#: Group the digits of one number: dots, dashes (of any kind), slashes.
_WEAK = ".-/\u2010\u2011\u2012\u2013\u2014\u2212\uff0d\uff0e\uff0f"
#: Separate numbers, or the parts of one: whitespace, control characters, commas.
_COMMAS = ",\uff0c"
_MAX_GAP = 3  # separator characters between two groups of one number
_SEPARATORS = rf"\s\x00-\x1f\x7f-\x9f{re.escape(_WEAK + _COMMAS)}{FORMAT_CLASS}"
#: A group of digits (invisible marks inside), then the separators after it. Linear: the
#: first part must start with a digit and neither part can fail once it has.
_TOKEN = re.compile(rf"(\d[\d{FORMAT_CLASS}]*)([{_SEPARATORS}]*)")
_CPF_SHAPES = ((3, 3, 3, 2), (9, 2))
_NONE, _LOOSE, _EXACT = 0, 1, 2

# A group: its ASCII digits, start, end, and the separator before it ("" for the first).
_Group = tuple[str, int, int, str]


#: Ten digits anywhere (the fewest a CPF-looking number has): without them, none.
_TEN_DIGITS = re.compile(r"(?:\d\D*){10}")


def candidates(text: str) -> tuple[CpfCandidate, ...]:
    """Every CPF-looking number in ``text``, valid or not, in order. Linear time."""
    if not _TEN_DIGITS.search(text):  # most texts: nothing to look at
        return ()
    found = []
    for chain in _chains(text):
        for first, last in _windows(text, chain):
            digits = "".join([group[0] for group in chain[first : last + 1]])
            problem = validate(digits) if len(digits) == 11 else CpfProblem("length", digits)
            found.append(CpfCandidate(digits, (chain[first][1], chain[last][2]), problem))
    return tuple(found)


def _chains(text: str) -> Iterator[list[_Group]]:
    """Runs of digit groups joined by at most three separator characters."""
    chain: list[_Group] = []
    gap, gap_end = "", -1
    for match in _TOKEN.finditer(text):
        group, after = match.group(1, 2)
        start = match.start()
        if chain and (start != gap_end or len(gap) > _MAX_GAP):
            yield chain
            chain = []
        digits = group if group.isascii() else normalise(group)
        chain.append((digits, start, start + len(group), gap if chain else ""))
        gap, gap_end = (after if after.isprintable() else normalise(after)), match.end()
    if chain:
        yield chain


def _windows(text: str, chain: list[_Group]) -> list[tuple[int, int]]:
    """First and last group of each CPF-looking number in ``chain``.

    A number is a run of whole parts (groups joined by dots, dashes or slashes; a group of
    eleven digits is a part of its own). Exact CPFs are taken first, leftmost first; the
    looser shapes then fill what is left.
    """
    if _is_cnpj(chain):
        return []
    parts = _parts(chain)
    taken = [False] * len(parts)
    found = []
    for wanted in (_EXACT, _LOOSE):
        start = 0
        while start < len(parts):
            last = _window(text, chain, parts, taken, start, wanted)
            if last is None:
                start += 1
                continue
            taken[start : last + 1] = [True] * (last + 1 - start)
            found.append((parts[start][0], parts[last][1]))
            start = last + 1
    return sorted(found)


def _parts(chain: list[_Group]) -> list[tuple[int, int, int]]:
    """First group, last group and digit count of each part of ``chain``."""
    parts: list[tuple[int, int, int]] = []
    for index, (digits, _, _, gap) in enumerate(chain):
        joined = index and not _separates(gap) and len(digits) != 11
        if joined and len(chain[index - 1][0]) != 11:
            first, _, count = parts[-1]
            parts[-1] = (first, index, count + len(digits))
        else:
            parts.append((index, index, len(digits)))
    return parts


def _separates(gap: str) -> bool:
    return any(ch not in _WEAK for ch in gap)


def _window(
    text: str,
    chain: list[_Group],
    parts: list[tuple[int, int, int]],
    taken: list[bool],
    start: int,
    wanted: int,
) -> int | None:
    """The last part of the shortest CPF-looking number of rank ``wanted`` or better that
    starts at part ``start`` and overlaps nothing taken."""
    total = 0
    for last in range(start, len(parts)):
        total += parts[last][2]
        if taken[last] or total > 12:
            return None
        if total >= 10 and _rank(text, chain[parts[start][0] : parts[last][1] + 1]) >= wanted:
            return last
    return None


def _rank(text: str, window: list[_Group]) -> int:
    """How surely the 10 to 12 digits of ``window`` are a CPF (see the module's doc)."""
    lengths = [len(group[0]) for group in window]
    total = sum(lengths)
    bounds = _bounds(lengths)
    priced, shaped = _money(text, window)
    if total == 11 and bounds <= {3, 6, 9} and not (priced and shaped):
        return _EXACT
    if len(window) == 1 or priced or shaped or _glued(text, window):
        return _NONE
    if total == 11:
        digits = "".join([group[0] for group in window])
        loose = len(window) <= 4 and min(lengths) >= 2
        return _LOOSE if loose and not _phone(digits, bounds) and not _dated(window) else _NONE
    near = any(
        len(shape) == len(lengths)
        and sum(abs(a - b) for a, b in zip(shape, lengths, strict=True)) == 1
        for shape in _CPF_SHAPES
    )
    return _LOOSE if near else _NONE


def _bounds(lengths: Sequence[int]) -> set[int]:
    """Where the separators fall, counted in digits: ``{3, 6, 9}`` for ``529.982.247-25``."""
    bounds, position = set(), 0
    for length in lengths[:-1]:
        position += length
        bounds.add(position)
    return bounds


def _money(text: str, window: list[_Group]) -> tuple[bool, bool]:
    """Whether ``window`` follows a currency sign (``R$ 12.345.678``), and whether it is
    written as money (``12.345.678,90``)."""
    start = window[0][1]
    priced = text[max(start - 4, 0) : start].rstrip().endswith(("$", "€", "£"))
    gaps = [group[3] for group in window[1:]]
    shaped = (
        bool(gaps) and gaps[-1] in _COMMAS and len(window[-1][0]) == 2 and set(gaps[:-1]) <= {"."}
    )
    return priced, shaped


def _glued(text: str, window: list[_Group]) -> bool:
    """Part of a code glued to a word: ``PROCON-2026-00012345``, ``AB12345678901``."""
    start, end = window[0][1], window[-1][2]
    before = text[start - 1 : start] if start else ""
    if before.isalpha() or (before and before in "-/_#" and text[start - 2 : start - 1].isalnum()):
        return True
    return text[end : end + 1].isalpha()


def _phone(digits: str, bounds: set[int]) -> bool:
    """``35 99999-0000``, ``35 9 9999-0000``, ``3599999-0000``: area code, then a mobile."""
    return (
        "0" not in digits[:2] and digits[2] == "9" and bounds <= {2, 3, 7} and bool(bounds & {2, 7})
    )


def _dated(window: list[_Group]) -> bool:
    """Whether three groups of ``window`` make a date (``12/05/2026``, ``2026-05-12``)."""
    for index in range(len(window) - 2):
        (a, _, _, _), (b, _, _, gap1), (c, _, _, gap2) = window[index : index + 3]
        if gap1 == gap2 and gap1 in ("/", ".", "-"):
            if len(a) <= 2 and len(b) <= 2 and len(c) in (2, 4):
                return True
            if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
                return True
    return False


def _is_cnpj(chain: list[_Group]) -> bool:
    """``12.345.678/0001-95`` or ``12 345 678 0001 95``: 14 digits at a CNPJ's places."""
    if not 2 <= len(chain) <= 5:
        return False
    lengths = [len(group[0]) for group in chain]
    return sum(lengths) == 14 and _bounds(lengths) <= {2, 5, 8, 12}


# -- using what was found --------------------------------------------------------------


def first_valid(found: Sequence[CpfCandidate]) -> CpfCandidate | None:
    """The first valid CPF among ``found``."""
    return next((candidate for candidate in found if candidate.problem is None), None)


def best_problem(found: Sequence[CpfCandidate]) -> CpfProblem | None:
    """``None`` when ``found`` holds a valid CPF; else the most useful problem to tell the
    citizen: wrong check digits or repeated digits before a wrong length, the first of
    each; ``missing`` when nothing looked like a CPF."""
    problems = [candidate.problem for candidate in found]
    if None in problems:
        return None
    return (
        next((p for p in problems if p is not None and p.code != "length"), None)
        or next((p for p in problems if p is not None), None)
        or CpfProblem("missing")
    )


def find_cpf(text: str) -> tuple[str, tuple[int, int]] | CpfProblem:
    """Find the CPF in ``text``.

    Returns the 11 ASCII digits of the first valid CPF and the span they occupy, or the
    :class:`CpfProblem` of :func:`best_problem` (so the citizen can be told what is wrong).
    """
    found = candidates(text)
    valid = first_valid(found)
    if valid is not None:
        return valid.digits, valid.span
    problem = best_problem(found)
    assert problem is not None
    return problem


#: The sample CPF civic's own texts show ("por exemplo: Maria da Silva 123.456.789-09"):
#: valid check digits, obviously an example. :func:`redact` spares it when asked to.
EXAMPLE = "12345678909"


def redact(
    text: str, found: Sequence[CpfCandidate] | None = None, *, keep: frozenset[str] = frozenset()
) -> str:
    """``text`` with every CPF-looking number, valid or not, replaced by its :func:`mask`.

    ``found`` is what :func:`candidates` returns for ``text`` (found again when not given).
    Numbers whose digits are in ``keep`` stay as typed (civic's replies keep
    :data:`EXAMPLE`). Nothing else in the text changes. Linear time.
    """
    found = candidates(text) if found is None else found
    pieces, position = [], 0
    for candidate in found:
        if candidate.digits in keep:
            continue
        start, end = candidate.span
        pieces += [text[position:start], candidate.masked]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


# -- one CPF -----------------------------------------------------------------------------


def validate(digits: str) -> CpfProblem | None:
    """``None`` when ``digits`` are 11 ASCII digits of a CPF the Receita could have issued."""
    if len(digits) != 11 or not (digits.isascii() and digits.isdigit()):
        return CpfProblem("length", digits)
    if len(set(digits)) == 1:
        return CpfProblem("repeated", digits)
    if complete(digits[:9]) != digits:
        return CpfProblem("check_digits", digits)
    return None


def complete(base: str) -> str:
    """The nine ``base`` digits followed by their two check digits (for fictitious CPFs
    in examples and benchmarks)."""
    numbers = [ord(d) - 48 for d in base]
    first = sum(map(operator.mul, numbers, range(10, 1, -1))) * 10 % 11 % 10
    second = (sum(map(operator.mul, numbers, range(11, 2, -1))) + 2 * first) * 10 % 11 % 10
    return f"{base}{first}{second}"


def mask(digits: str) -> str:
    """The display form that hides the first three and the check digits: ``***.982.247-**``.

    Other lengths keep only the fourth to sixth digits (``***.982.***-*`` for ten); fewer
    than ten digits are all hidden.
    """
    if len(digits) == 11:
        return f"***.{digits[3:6]}.{digits[6:9]}-**"
    if len(digits) >= 10:
        return f"***.{digits[3:6]}.***-{'*' * (len(digits) - 9)}"
    return "*" * len(digits)


def formatted(digits: str) -> str:
    """``529.982.247-25``."""
    return stdnum_cpf.format(digits)


def keyed_hash(digits: str, secret: bytes) -> str:
    """HMAC-SHA256 of the digits with the instance secret: recognises, never reveals.

    Raises :class:`ValueError` unless ``digits`` are ASCII digits (``５`` is a digit to
    Python, but would hash differently from ``5``: normalise first).
    """
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError("keyed_hash takes ASCII digits only")
    return hmac.new(secret, digits.encode("ascii"), hashlib.sha256).hexdigest()
