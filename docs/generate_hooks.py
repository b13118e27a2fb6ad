"""Write docs/plugin_hooks.md from civic.hookspecs (run: python docs/generate_hooks.py).

The reference is generated so it cannot drift from the code; tests/test_docs.py fails
when the committed file differs from what this script writes.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from civic import hookspecs

HEADER = """\
# Plugin hooks

civic calls these hooks, in the order a conversation meets them. Implement any of them
in a module or class decorated with `@hookimpl`:

```python
from civic import hookimpl

@hookimpl
def route_message(text, departments):
    ...
```

An implementation may accept any subset of a hook's arguments (name them exactly), so
hooks can gain arguments without breaking plugins. Installed plugins are called before
civic's built-in ones, so they can override them. A plugin that raises is logged with its
name and skipped; the citizen never sees a traceback.

This file is generated from `civic/hookspecs.py` by `docs/generate_hooks.py`.
"""

EXAMPLES = {
    "register_departments": """
from civic import Department, Topic, hookimpl

@hookimpl
def register_departments(register):
    register(Department(
        slug="ouvidoria",
        name="Ouvidoria",
        description="Elogios, reclamações e sugestões sobre a prefeitura",
        keywords=("ouvidoria", "elogio", "sugestao"),
        topics=(Topic("Falar com a ouvidoria", handover=True),),
    ))
""",
    "register_commands": '''
import typer
from civic import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    def hello(name: str):
        """Say hello."""
        typer.echo(f"Olá, {name}!")
''',
    "register_format_checkers": """
from civic import hookimpl

@hookimpl
def register_format_checkers(register):
    register("inscricao-municipal", lambda v: not isinstance(v, str) or v.isdigit())
""",
    "identify_citizen": """
from civic import Identity, hookimpl

@hookimpl
def identify_citizen(text, conversation):
    if conversation.channel == "intranet":
        name, _, cpf = text.partition(";")
        return Identity(name=name.strip(), cpf=cpf.strip())
    return None  # let the built-in CPF identification try
""",
    "route_message": """
from civic import hookimpl

@hookimpl
def route_message(text):
    return "procon" if "nota fiscal" in text.lower() else None
""",
    "department_message": """
from civic import Answer, hookimpl

@hookimpl
def department_message(department, text, settings):
    if department.slug == "cac" and "iptu" in text.lower():
        phone = settings.contacts.get("phone", "a prefeitura")
        return Answer(f"O IPTU vence em março. Dúvidas: {phone}.", done=True)
    return None
""",
    "form_submitted": """
from civic import hookimpl

@hookimpl
def form_submitted(department, form, data, protocol):
    if department.slug == "procon":
        notify_staff(protocol, data)  # your code: e-mail, a ticket system...
        return "A equipe do PROCON analisa reclamações em até 5 dias úteis."
""",
    "protocol_number": """
from civic import hookimpl

@hookimpl
def protocol_number(department, year, sequence):
    # The city's own numbering: 2026.0007-OUV. Unique: the prefix is the department's.
    return f"{year}.{sequence:04d}-{department.prefix}"
""",
    "score_rating": """
from civic import hookimpl

@hookimpl
def score_rating(text, scale_max):
    stars = text.count("⭐")
    return round(stars * scale_max / 5) if stars else None
""",
    "conversation_opened": """
from civic import hookimpl

@hookimpl
def conversation_opened(conversation):
    metrics.increment("civic.conversations", tags={"channel": conversation.channel})
""",
    "conversation_closed": """
from civic import hookimpl

@hookimpl
def conversation_closed(conversation):
    archive(conversation.id)  # your code
""",
    "conversation_handed_over": """
from civic import hookimpl

@hookimpl
def conversation_handed_over(conversation):
    # Page the department's team; civic has already committed the hand-over.
    pager.send(f"{conversation.department or 'geral'}: nova conversa na fila")
""",
    "conversation_taken": """
from civic import hookimpl

@hookimpl
def conversation_taken(conversation, agent):
    dashboard.mark_busy(agent, conversation.id)  # your code
""",
    "conversation_transferred": """
from civic import hookimpl

@hookimpl
def conversation_transferred(conversation, source, target, note):
    pager.send(f"{target}: conversa {conversation.id} vinda de {source}: {note or ''}")
""",
    "conversation_released": """
from civic import hookimpl

@hookimpl
def conversation_released(conversation, agent):
    dashboard.mark_free(agent)  # your code
""",
    "conversation_resolved": """
from civic import hookimpl

@hookimpl
def conversation_resolved(conversation, agent):
    metrics.increment("civic.resolved", tags={"agent": agent})
""",
    "register_channels": """
from civic import hookimpl
from civic.channels import Channel, Sent


async def send_sms(host, outgoing):
    response = await host.http.post(
        "https://sms.example.invalid/send",
        json={"to": outgoing.address, "text": outgoing.delivery.reply.text},
    )
    return Sent(ok=response.status_code == 200, error=response.text[:200], retry=True)


@hookimpl
def register_channels(register):
    register(Channel(name="sms", description="SMS", sender=send_sms))
""",
    "register_report_indicators": """
from civic import hookimpl
from civic.report import ReportIndicator

@hookimpl
def register_report_indicators(register):
    register(ReportIndicator(
        name="submissions",
        label="Protocolos abertos",
        compute=lambda query: query.submissions(),
    ))
""",
}


def _markdown(doc: str) -> str:
    """The hook's docstring with ``:param x:`` lines as a Markdown list."""
    text = inspect.cleandoc(doc)
    text = re.sub(r":param (\w+):", r"- `\1`:", text)
    text = re.sub(r":return:", "- returns:", text)
    text = re.sub(r":(?:class|func|meth|mod):`~?([\w.]+)`", r"`\1`", text)
    return text.replace("``", "`")


def render() -> str:
    """The whole reference, in hookspecs' source order."""
    parts = [HEADER]
    functions = [
        f for _, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "civic_spec")
    ]
    functions.sort(key=lambda f: f.__code__.co_firstlineno)
    for function in functions:
        name = function.__name__
        params = ", ".join(inspect.signature(function).parameters)
        mode = "firstresult" if function.civic_spec.get("firstresult") else "collected"
        parts.append(f"## {name}({params})\n\n*{mode}*\n\n{_markdown(function.__doc__ or '')}\n")
        if name in EXAMPLES:
            parts.append(f"```python{EXAMPLES[name].rstrip()}\n```\n")
    return "\n".join(parts)


TARGET = Path(__file__).with_name("plugin_hooks.md")

if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
