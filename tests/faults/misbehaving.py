"""A development plugin that misbehaves on demand (``CIVIC_PLUGINS=<this file>``).

It adds the department *Testes de falhas* (slug ``falhas``). Inside it the citizen's words
choose the fault: ``quebrar`` makes ``department_message`` raise, ``travar`` makes it
hang, ``lixo`` makes it return garbage (a number, not an action), ``formulario`` starts
the form ``relato`` (a subject, then details), whose warning on the details hangs when
they are ``travar``. Only the fault tests load it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from civic import hookimpl
from civic.values import Department, StartForm

#: Long past any time limit a test sets; the hung thread is a daemon.
HANG = 120.0
#: Set to let hung calls end (the engine tests do, after each test).
RELEASE = threading.Event()

FORM = {
    "title": "Relato",
    "type": "object",
    "properties": {
        "assunto": {"type": "string", "title": "Qual é o assunto?"},
        "detalhe": {"type": "string", "title": "Conte os detalhes."},
    },
    "required": ["assunto", "detalhe"],
}


def hang() -> None:
    RELEASE.wait(HANG)


def warn_details(value: Any, answers: dict[str, Any]) -> str | None:
    if value == "travar":
        hang()
    return None


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(
        Department(
            slug="falhas",
            name="Testes de falhas",
            description="Reclamações sobre o atendimento",
            keywords=("falhas",),
            forms={"relato": FORM},
            form_warnings={"relato": {"detalhe": warn_details}},
            order=9,
        )
    )


@hookimpl
def department_message(department: Department, text: str) -> object:
    if department.slug != "falhas":
        return None
    word = text.strip().lower()
    if word == "quebrar":
        raise RuntimeError("the ouvidoria plugin broke")
    if word == "travar":
        hang()
    if word == "lixo":
        return 42
    if word == "formulario":
        return StartForm(form="relato")
    return None
