"""Benchmark reading a message: civic.reading.read against the old cpf.redact.

    python benchmarks/run.py --only reading

Reads a realistic mix of citizen messages (greetings, menu numbers, name and CPF, form
answers with dates, phones and CEPs, a long complaint) N times, then adversarial lines of
250,000 characters (25,000 with ``--quick``: eleven-digit numbers separated by spaces;
digits, dots and spaces at random), and gives messages per second. The baseline,
measured in the same run on the same messages, is the ``cpf.redact`` civic used before
``read`` (kept below as it was): it searched windows of every run of digits and rescanned
the run for each CPF, so its time grew with the square of a run's length, while ``read``
is linear and keeps at most ``STORE_LIMIT`` characters. ``read`` does more than redact
(normalise, fold, words, numbers, CPF problems), so the mix compares a whole reading
with a redaction alone.
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections.abc import Callable

from stdnum.br import cpf as stdnum_cpf
from table import Row, times

from civic.reading import read

MIX = [
    "oi",
    "Bom dia!",
    "Maria José dos Santos 529.982.247-25",
    "meu nome é joão da silva, cpf 52998224725",
    "2",
    "1",
    "não",
    "nota 10",
    "Comprei uma geladeira em 12/03/2026 na Loja X (CNPJ 12.345.678/0001-95), paguei "
    "R$ 3.499,90 e ela parou de funcionar. Liguei no (35) 99999-0000 e no 0800 123 4567 "
    "várias vezes, protocolo 2026031200123, e ninguém resolve. Moro na Rua das Flores, "
    "123, CEP 37640-000. Quero meu dinheiro de volta ou a troca do produto!",
    "Muito bom o atendimento, obrigada",
    "35 99999-0000",
    "PROCON-2026-000123",
    "sim",
    "５２９．９８２．２４７－２５ Ana",
]


# -- the old cpf.redact, as it was before civic.reading (commit 872ec04) ---------------

_OLD_RUN = re.compile(r"\d+(?:[.,\-/ ]{1,3}\d+)*")
_OLD_INVISIBLE = dict.fromkeys(
    cp for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x180E, 0x200E, 0x200F)
)


def _old_candidates(run: str) -> list[str]:
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


def _old_valid(digits: str) -> bool:
    return (
        len(digits) == 11
        and digits.isdigit()
        and len(set(digits)) > 1
        and stdnum_cpf.is_valid(digits)
    )


def old_redact(text: str) -> str:
    """civic's cpf.redact before civic.reading: valid CPFs only, quadratic in a run."""

    def masked(match: re.Match[str]) -> str:
        run = match.group()
        for digits in _old_candidates(run):
            if _old_valid(digits):
                spread = r"[.,\-/ ]{0,3}".join(digits)
                run = re.sub(spread, f"***.{digits[3:6]}.{digits[6:9]}-**", run, count=1)
        return run

    redacted = _OLD_RUN.sub(masked, text)
    visible = redacted.translate(_OLD_INVISIBLE)
    if visible != redacted and _OLD_RUN.sub(masked, visible) != visible:
        return _OLD_RUN.sub(masked, visible)
    return redacted


# -- measuring --------------------------------------------------------------------------


def rate(function: Callable[[str], object], messages: list[str]) -> tuple[float, float]:
    """Messages per second and total seconds of ``function`` over ``messages``."""
    start = time.perf_counter()
    for message in messages:
        function(message)
    seconds = time.perf_counter() - start
    return len(messages) / seconds, seconds


def adversarial(size: int) -> dict[str, str]:
    rng = random.Random(7)
    return {
        "eleven-digit numbers": ("52998224725 " * (size // 12 + 1))[:size],
        "digits, dots, spaces": "".join(rng.choice("0123456789.. ") for _ in range(size)),
    }


def run(*, rounds: int, size: int) -> tuple[list[Row], list[str]]:
    """The mix ``rounds`` times, then each adversarial line once; the table's rows."""
    messages = MIX * rounds
    cases = {f"realistic mix, {len(messages):,} messages": messages}
    cases |= {
        f"adversarial line, {len(line):,} chars of {label}": [line]
        for label, line in adversarial(size).items()
    }
    rows = []
    for name, lines in cases.items():
        mine, _ = rate(read, lines)
        theirs, _ = rate(old_redact, lines)
        rows.append(
            Row(
                f"reading: {name}",
                "messages/s",
                mine,
                "old cpf.redact (redaction only)",
                theirs,
                ratio=f"{times(mine, theirs):,.2f}× the rate",
            )
        )
    return rows, []


if __name__ == "__main__":  # the command this file had: run.py --only reading
    import run

    sys.exit(run.main(["--only", "reading", *sys.argv[1:]]))
