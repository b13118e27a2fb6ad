"""Replay the Casa do Cidadão's ten days of March 2021 through civic.

329 citizens write in between 16 and 26 March 2021; each identifies with name and CPF,
chooses a department, asks a question, declines further help and scores the service.
The scores are the published ones (mean 9.83, "98.3"). Run it, then ask civic:

    python examples/replay_2021.py --database-url sqlite:///extrema.db
    civic report --since 2021-03-16 --until 2021-03-26 --database-url sqlite:///extrema.db

Everything goes through the real engine, one message at a time, as a channel would send it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import zoneinfo

from civic import cpf as civic_cpf
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage
from civic.values import Inbound

#: 329 scores summing to 3234: mean 9.8298..., published as 9.83 and 98.3.
SCORES = [10] * 296 + [9] * 24 + [8] * 6 + [5] * 2 + [0]
FIRST_NAMES = ["Maria", "José", "Ana", "João", "Antônia", "Francisco", "Patrícia", "Carlos"]
LAST_NAMES = ["da Silva", "dos Santos", "Oliveira", "Souza", "Pereira", "Costa", "Araújo"]
#: (department menu number, a question that department answers) in the city's mix.
VISITS = [("1", "qual o horário de atendimento?")] * 5 + [
    ("2", "comprei pela internet, posso desistir?"),
    ("2", "o produto quebrou, qual o prazo para reclamar?"),
    ("3", "como faço o alistamento?"),
]
COMMENTS = ["Muito rápido, obrigado!", "não", "Atendimento excelente", "não", "não"]


def cpf(number: int) -> str:
    """A valid, fictitious CPF made from ``number``."""
    return civic_cpf.complete(f"{100_000_000 + number * 7919:09d}"[-9:])


def replay(engine: Engine, *, seed: int = 2021) -> int:
    """Play the 329 conversations; return how many messages were sent."""
    rng = random.Random(seed)
    zone = zoneinfo.ZoneInfo("America/Sao_Paulo")
    start = dt.datetime(2021, 3, 16, 8, 0, tzinfo=zone)
    span = dt.datetime(2021, 3, 26, 17, 0, tzinfo=zone) - start
    scores = SCORES[:]
    rng.shuffle(scores)
    sent = 0
    for index, score in enumerate(scores):
        when = start + span * index / len(scores)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        department, question = rng.choice(VISITS)
        lines = [f"{name} {cpf(index)}", department, question, "não", f"nota {score}"]
        lines.append(rng.choice(COMMENTS))
        for offset, text in enumerate(lines):
            engine.handle(
                Inbound(
                    channel="whatsapp",
                    address=f"+55359{index:08d}",
                    text=text,
                    channel_message_id=f"replay-{index}-{offset}",
                    received_at=when + dt.timedelta(seconds=40 * offset),
                )
            )
            sent += 1
        if index % 50 == 0:
            print(f"  {index}/{len(scores)} conversations", file=sys.stderr)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="sqlite:///extrema-2021.db")
    args = parser.parse_args()
    storage = Storage(args.database_url)
    storage.migrate()
    engine = Engine(storage, secret=b"replay-2021", manager=load_plugins())
    sent = replay(engine)
    print(f"replayed 329 conversations ({sent} messages) into {args.database_url}")


if __name__ == "__main__":
    main()
