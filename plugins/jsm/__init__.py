"""JSM — Junta do Serviço Militar: enlistment information and triage."""

from __future__ import annotations

from collections.abc import Callable

from civic import Department, Topic, hookimpl

DEPARTMENT = Department(
    slug="jsm",
    name="Junta do Serviço Militar",
    description="Alistamento militar, certificados e reservistas",
    keywords=(
        "alistamento",
        "alistar",
        "militar",
        "servico militar",
        "junta",
        "jsm",
        "reservista",
        "exercito",
        "dispensa",
        "cdi",
        "cam",
        "juramento",
        "bandeira",
    ),
    greeting="Você está na Junta do Serviço Militar (JSM). Como podemos ajudar?",
    topics=(
        Topic(
            title="Como fazer o alistamento",
            keywords=("alistamento", "alistar", "como me alisto"),
            answer="O alistamento é obrigatório para os homens no ano em que completam 18 "
            "anos, de 1º de janeiro a 30 de junho. Ele é feito no site oficial do Exército "
            "(alistamento.eb.mil.br) ou presencialmente na Junta do Serviço Militar.",
        ),
        Topic(
            title="Certificado de dispensa (CDI)",
            keywords=("cdi", "dispensa", "certificado de dispensa"),
            answer="O Certificado de Dispensa de Incorporação (CDI) é emitido para quem foi "
            "dispensado do serviço militar, depois do juramento à Bandeira.",
        ),
        Topic(
            title="Juramento à Bandeira",
            keywords=("juramento", "bandeira"),
            answer="O juramento à Bandeira é a cerimônia em que o dispensado presta o "
            "compromisso; a data é informada pela Junta.",
        ),
        Topic(
            title="Reservistas",
            keywords=("reservista", "reserva", "exar"),
            answer="Reservistas devem manter seus dados atualizados e se apresentar ao "
            "Exercício de Apresentação da Reserva (EXAR) nos anos previstos.",
        ),
        Topic(
            title="Falar com um atendente",
            keywords=("atendente", "pessoa", "humano"),
            handover=True,
        ),
    ),
    order=30,
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)
