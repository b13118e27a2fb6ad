"""The built-in report indicators: contacts, response rate, mean score, NPS, CSAT, medians,
protocols by status and deadlines met.

Definitions (every percentage is 0–100, rounded half away from zero):

- ``score_percent`` is the mean of ``score / scale_max`` × 100, which is the mean score
  as a percentage of the scale's maximum (9.83 on 0–10 is 98.3) and stays meaningful
  if the scale changed within the period.
- ``nps`` counts 0–10 ratings only: % promoters (9–10) minus % detractors (0–6).
- ``csat_percent`` is the % of ratings on the top two points of their scale (9–10 on
  0–10, 4–5 on 1–5).
- ``distribution`` counts each score from the lowest scale minimum to the highest scale
  maximum seen in the report, the same keys for every group.
- ``questions`` gives, for each of the city's extra survey questions (``[survey]
  questions``), how many answered it, the mean (two decimals) when its answers are
  numbers, and how often each answer was given (every option listed, zeros included;
  never the words of a free-text answer).
- ``protocols`` counts the protocols (manifestations) filed in the conversations by their
  current status; ``deadline_met_percent`` is ``deadline_met`` ÷ ``deadline_due``: the
  protocols answered within their department's declared deadline among those answered
  or past it (:meth:`civic.report.ReportQuery.deadline_counts`). Lei 13.460/2017 art. 23
  asks public services to publish both, with the users' satisfaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from civic import hookimpl

if TYPE_CHECKING:  # civic.report needs the database; it is imported when a report runs
    from civic.report import (
        Aggregate,
        ReportIndicator,
        ReportQuery,
        ScoreCounts,
        SurveyQuestion,
    )


def rounded(value: Fraction | None, places: int) -> float | None:
    """``value`` rounded half away from zero to ``places`` decimals (exact arithmetic)."""
    if value is None:
        return None
    scale = 10**places
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return math.copysign(magnitude / scale, value) if magnitude else 0.0


def mean_score(counts: ScoreCounts) -> float | None:
    """The mean score, two decimals."""
    return rounded(Fraction(counts.score_sum, counts.rated) if counts.rated else None, 2)


def score_percent(counts: ScoreCounts) -> float | None:
    """The mean of ``score / scale_max`` × 100, one decimal."""
    if not counts.rated:
        return None
    total = sum(
        (Fraction(score * n, scale_max) for (_, scale_max, score), n in counts.counts.items()),
        Fraction(0),
    )
    return rounded(total * 100 / counts.rated, 1)


def nps(counts: ScoreCounts) -> float | None:
    """% promoters (9–10) minus % detractors (0–6) of the 0–10 ratings, one decimal."""
    ten = {score: n for (low, high, score), n in counts.counts.items() if (low, high) == (0, 10)}
    rated = sum(ten.values())
    if not rated:
        return None
    promoters = sum(n for score, n in ten.items() if score >= 9)
    detractors = sum(n for score, n in ten.items() if score <= 6)
    return rounded(Fraction(100 * (promoters - detractors), rated), 1)


def csat_percent(counts: ScoreCounts) -> float | None:
    """% of ratings on the top two points of their scale, one decimal."""
    if not counts.rated:
        return None
    satisfied = sum(n for (_, high, score), n in counts.counts.items() if score >= high - 1)
    return rounded(Fraction(100 * satisfied, counts.rated), 1)


def distribution(scores: Aggregate[ScoreCounts]) -> Aggregate[dict[str, int]]:
    """Ratings per score, with the same keys (the report's whole range) in every group."""
    keys = scores.total.counts.keys()
    low = min((key[0] for key in keys), default=0)
    high = max((key[1] for key in keys), default=-1)

    def count(counts: ScoreCounts) -> dict[str, int]:
        found = {score: 0 for score in range(low, high + 1)}
        for (_, _, score), n in counts.counts.items():
            found[score] = found.get(score, 0) + n
        return {str(score): n for score, n in sorted(found.items())}

    return scores.map(count)


def question_figures(question: SurveyQuestion, found: Mapping[str | None, int]) -> dict[str, Any]:
    """``answered``, ``mean`` and ``counts`` of one survey question, from how often each
    answer was given (see :meth:`civic.report.ReportQuery.answer_counts`)."""
    answered = sum(found.values())
    if question.kind == "text":
        return {"answered": answered, "mean": None, "counts": {}}
    counts = dict.fromkeys(question.options, 0)
    for answer, n in sorted(found.items(), key=lambda item: str(item[0])):
        if answer is not None:
            counts[answer] = counts.get(answer, 0) + n
    mean = None
    if question.numeric and answered:
        try:
            total = sum(Fraction(answer) * n for answer, n in counts.items() if n)
        except (ValueError, ZeroDivisionError):  # an old answer that is not a number
            total = None
        mean = rounded(Fraction(total, answered), 2) if total is not None else None
    return {"answered": answered, "mean": mean, "counts": counts}


def questions(query: ReportQuery) -> Aggregate[dict[str, dict[str, Any]]]:
    """Every survey question's figures (:func:`question_figures`), for each group."""
    return query.answer_counts().map(
        lambda found: {q.key: question_figures(q, found.get(q.key, {})) for q in query.questions}
    )


def response_rate(query: ReportQuery) -> Aggregate[float | None]:
    """Rated conversations as a percentage of conversations, one decimal."""
    from civic.report import Aggregate

    rated = query.score_counts()
    conversations = query.conversations()

    def rate(key: str | None) -> float | None:
        n = conversations.total if key is None else conversations.groups[key]
        r = rated.total if key is None else rated.groups[key]
        return rounded(Fraction(100 * r.rated, n), 1) if n else None

    return Aggregate(rate(None), {key: rate(key) for key in query.group_keys})


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def deadline_percent(counts: tuple[int, int]) -> float | None:
    """Deadlines met as a percentage of deadlines due, one decimal; ``None`` when none
    was due."""
    due, met = counts
    return rounded(Fraction(100 * met, due), 1) if due else None


@hookimpl
def register_report_indicators(register: Callable[[ReportIndicator], None]) -> None:
    """Register the built-in indicators of every report."""
    from civic.report import ReportIndicator

    indicators = [
        ("contacts", "Contatos", lambda q: q.contacts(), "Cidadãos identificados distintos."),
        ("conversations", "Atendimentos", lambda q: q.conversations(), "Conversas abertas."),
        (
            "abandoned",
            "Abandonados",
            lambda q: q.abandoned(),
            "Conversas encerradas por falta de resposta do cidadão (contadas à parte).",
        ),
        (
            "rated",
            "Avaliações",
            lambda q: q.score_counts().map(lambda c: c.rated),
            "Atendimentos que receberam uma nota.",
        ),
        (
            "response_rate_percent",
            "Taxa de resposta (%)",
            response_rate,
            "Avaliações ÷ atendimentos, em percentual.",
        ),
        (
            "mean_score",
            "Nota média",
            lambda q: q.score_counts().map(mean_score),
            "Média das notas, com duas casas decimais.",
        ),
        (
            "score_percent",
            "Satisfação (%)",
            lambda q: q.score_counts().map(score_percent),
            "Nota média em percentual da nota máxima da escala.",
        ),
        (
            "nps",
            "NPS",
            lambda q: q.score_counts().map(nps),
            "% de promotores (9–10) menos % de detratores (0–6), notas de 0 a 10.",
        ),
        (
            "csat_percent",
            "CSAT (%)",
            lambda q: q.score_counts().map(csat_percent),
            "% de notas nos dois pontos mais altos da escala.",
        ),
        (
            "distribution",
            "Distribuição das notas",
            lambda q: distribution(q.score_counts()),
            "Quantidade de avaliações por nota.",
        ),
        (
            "questions",
            "Perguntas da pesquisa",
            questions,
            "Para cada pergunta extra da pesquisa: quantos responderam, a média (respostas "
            "numéricas) e quantas vezes cada resposta foi dada.",
        ),
        (
            "median_first_response_seconds",
            "Mediana da primeira resposta (s)",
            lambda q: q.median_seconds("first_response").map(_seconds),
            "Segundos até a primeira resposta: do atendente, contados da passagem à equipe; "
            "do robô, contados da abertura.",
        ),
        (
            "median_resolution_seconds",
            "Mediana do tempo de atendimento (s)",
            lambda q: q.median_seconds("closed").map(_seconds),
            "Segundos até o encerramento: pelo atendente, contados da passagem à equipe; "
            "pelo robô, contados da abertura.",
        ),
        (
            "protocols",
            "Protocolos por situação",
            lambda q: q.protocol_statuses(),
            "Protocolos (manifestações) registrados nos atendimentos, pela situação atual: "
            "recebido, em análise, respondido, encerrado.",
        ),
        (
            "deadline_due",
            "Protocolos com prazo apurado",
            lambda q: q.deadline_counts().map(lambda c: c[0]),
            "Protocolos de departamentos com prazo de resposta declarado que já foram "
            "respondidos ou cujo prazo terminou.",
        ),
        (
            "deadline_met",
            "Respondidos no prazo",
            lambda q: q.deadline_counts().map(lambda c: c[1]),
            "Protocolos respondidos pela primeira vez até o último dia do prazo do "
            "departamento (em dias corridos a partir do dia seguinte ao registro; o dia do "
            "vencimento conta).",
        ),
        (
            "deadline_met_percent",
            "Prazo cumprido (%)",
            lambda q: q.deadline_counts().map(deadline_percent),
            "Respondidos no prazo ÷ protocolos com prazo apurado, em percentual.",
        ),
    ]
    for name, label, compute, description in indicators:
        register(ReportIndicator(name, label, compute, description))
