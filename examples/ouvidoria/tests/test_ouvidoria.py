"""Tests of Ouvidoria: the conformance suite and conversations.

Run ``pytest`` after ``pip install -e ".[test]"`` (the suite finds the department
through the package's ``civic`` entry point). See civic's docs/testing.md.
"""

from __future__ import annotations

from civic.testing import MARIA, DepartmentConformance, Harness

import civic_ouvidoria


class TestOuvidoria(DepartmentConformance):
    department = "ouvidoria"


def test_a_denuncia_gets_a_protocol_and_the_deadline() -> None:
    with Harness(civic_ouvidoria) as h:
        h.say(MARIA)  # the name and CPF; the only department opens at once
        h.say("quero fazer uma denúncia")  # the form starts; the kind is understood
        h.expect("Denúncia", state="filling_form")
        h.say("Secretaria de Obras")
        h.say("O caminhão da prefeitura descarrega entulho no rio toda sexta.")
        h.say("sim")  # keep my name confidential
        reply = h.say("1")  # confirm the summary
        submission = h.submission()
        assert submission.protocol.startswith("OUV-") and submission.protocol in reply
        assert "Prazo de resposta: até 30 dias (Lei 13.460/2017, art. 16)." in reply
        assert "Seu nome fica em sigilo" in reply
        assert submission.data == {
            "tipo": "denuncia",
            "servico": "Secretaria de Obras",
            "relato": "O caminhão da prefeitura descarrega entulho no rio toda sexta.",
            "sigilo": True,
        }


def test_an_elogio_is_not_asked_about_confidentiality() -> None:
    with Harness(civic_ouvidoria) as h:
        h.script(MARIA, "1", "4")  # the form, then "Elogio"
        h.say("Posto de saúde do Centro")
        reply = h.say("A enfermeira Joana me atendeu com muita atenção.")
        assert "Sigilo" not in reply and h.form().stage == "summary"


def test_a_city_that_asks_the_cpf_only_when_needed_hears_anonymous_reports() -> None:
    config = {"identify": "when_needed"}
    with Harness(civic_ouvidoria, installed=["procon"], config=config) as h:
        h.say("oi")
        h.say("ouvidoria")
        h.expect("Atendimento: Ouvidoria", state="in_department", department="ouvidoria")


def test_the_deadline_and_the_carta_de_servicos_come_from_the_city() -> None:
    section = {"deadline_days": 20, "carta_de_servicos": "https://exemplo.gov.br/carta"}
    with Harness(civic_ouvidoria, config={"departments": {"ouvidoria": section}}) as h:
        h.say(MARIA)
        h.expect("Atendimento: Ouvidoria")
        h.say("qual o prazo de resposta?")
        h.expect("A Ouvidoria responde em até 20 dias")
        h.say("sim")
        h.say("carta")
        h.expect("Carta de Serviços ao Usuário: https://exemplo.gov.br/carta")
