"""Benchmark the per-message path: Engine.handle against raw inserts of the same messages.

    python benchmarks/bench_engine.py [--conversations N]

Plays N whole conversations (identification, menu, a department answer, further help,
score, comment: six inbound messages each) through :class:`civic.engine.Engine`, one
transaction per message as a channel would deliver them, and compares the CPU and wall
time per inbound message with a baseline measured in the same run: the same number of
messages written with raw ``sqlite3`` (one transaction each, inbound message plus one
reply). The ratio is what civic's whole pipeline (plugins, state machine, ORM-free Core
statements) costs over the cheapest possible storage of the same traffic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import tempfile
import time
from pathlib import Path

from civic import cpf as civic_cpf
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage
from civic.values import Inbound

LINES = ["{name} {cpf}", "2", "2", "não", "nota 10", "Muito bom"]


def cpf(number: int) -> str:
    """A valid, fictitious CPF made from ``number``."""
    return civic_cpf.complete(f"{100_000_000 + number * 7919:09d}"[-9:])


def run_engine(url: str, conversations: int) -> tuple[float, float, int]:
    storage = Storage(url)
    storage.migrate()
    engine = Engine(storage, secret=b"bench", manager=load_plugins())
    messages = 0
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for index in range(conversations):
        for offset, template in enumerate(LINES):
            engine.handle(
                Inbound(
                    channel="whatsapp",
                    address=f"+55{index:09d}",
                    text=template.format(name="Maria da Silva", cpf=cpf(index)),
                    channel_message_id=f"b-{index}-{offset}",
                )
            )
            messages += 1
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    storage.close()
    return wall, cpu, messages


def run_baseline(path: Path, messages: int) -> tuple[float, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE message (id INTEGER PRIMARY KEY, conversation_id INT, direction TEXT,"
        " text TEXT, channel TEXT, channel_message_id TEXT, created_at TEXT,"
        " UNIQUE (channel, channel_message_id))"
    )
    now = dt.datetime.now(dt.UTC).isoformat()
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for number in range(messages):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO message (conversation_id, direction, text, channel,"
            " channel_message_id, created_at) VALUES (?, 'in', ?, 'whatsapp', ?, ?)",
            (number // 6, "nota 10", f"b-{number}", now),
        )
        conn.execute(
            "INSERT INTO message (conversation_id, direction, text, channel, created_at)"
            " VALUES (?, 'out', ?, 'whatsapp', ?)",
            (number // 6, "Obrigado pela nota!", now),
        )
        conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    conn.close()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'engine.db'}"
        wall, cpu, messages = run_engine(url, args.conversations)
        base_wall, base_cpu = run_baseline(Path(folder) / "baseline.db", messages)
    print(f"{messages:,} inbound messages ({args.conversations:,} whole conversations)")
    print(
        f"  civic engine, SQLite:  {cpu / messages * 1000:6.2f} ms CPU/message, "
        f"{wall / messages * 1000:6.2f} ms wall, {messages / wall:8.0f} messages/s"
    )
    print(
        f"  raw sqlite3 baseline:  {base_cpu / messages * 1000:6.2f} ms CPU/message, "
        f"{base_wall / messages * 1000:6.2f} ms wall, {messages / base_wall:8.0f} messages/s"
    )
    print(f"  engine / baseline:     {cpu / base_cpu:6.1f}x CPU, {wall / base_wall:6.1f}x wall")


if __name__ == "__main__":
    main()
