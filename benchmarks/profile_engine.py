"""Profile the engine benchmark's per-message path: where civic spends a message's time.

    python benchmarks/profile_engine.py [--messages N] [--top 25] [--database-url URL]

Plays the engine benchmark's mix (``bench_engine.py``: the same conversations, the same
warm-up, SQLite unless ``--database-url`` is given) twice on fresh databases: once
unprofiled, for the real time per message, then under ``cProfile``, and prints

1. the time per message without and with the profiler (cProfile's own cost falls on
   Python calls, not on C calls such as SQLite's, so Python's share is inflated);
2. where the time goes, by component: the profiler's *self* time of every function,
   each function put in one component by its module (the components add up to 100 %);
3. inclusive times of the entry points worth optimising (SQLAlchemy's execute path,
   the pool, savepoints, text folding, regex compiles, the context's JSON...): time per
   message including what they call, and calls per message;
4. the top functions by cumulative time.

The output is Markdown, for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engine
from databases import fresh

from civic.prepared import Prepared
from civic.storage import Transaction

#: (component, does this (file, function) belong to it?): the first that matches wins.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite itself (sqlite3 C calls: execute, commit, fetch)", ("sqlite3.",)),
    ("psycopg and the PostgreSQL round trips", ("psycopg",)),
    ("SQLAlchemy pool (checkout, return, reset)", ("sqlalchemy/pool/",)),
    ("SQLAlchemy events (begin, connect listeners)", ("sqlalchemy/event/",)),
    ("SQLAlchemy engine (execute, cursor, results, rows)", ("sqlalchemy/engine/",)),
    ("SQLAlchemy SQL (compile, cache keys, bind processing)", ("sqlalchemy/sql/",)),
    ("SQLAlchemy other", ("sqlalchemy/",)),
    ("regex compiles (re._compiler, re._parser)", ("re/_compiler.py", "re/_parser.py")),
    ("regex cache look-up (re._compile)", ("re/__init__.py",)),
    (
        "regex matching (C: search, match, sub, finditer)",
        ("re.Pattern", "re.Match", "_sre"),
    ),
    ("JSON (json.dumps / loads)", ("json/", "_json")),
    ("text folding (civic.text, unicodedata)", ("core/text.py", "unicodedata")),
    (
        "reading a message (civic.reading, civic.cpf, civic.redaction)",
        (
            "core/reading.py",
            "core/cpf.py",
            "core/redaction.py",
            "stdnum/",
        ),
    ),
    ("the context (civic.context, attrs asdict)", ("core/context.py", "attr/_funcs.py")),
    ("texts and catalogues (civic.texts, civic.words)", ("core/texts.py", "core/words.py")),
    (
        "forms and formats (civic.forms, civic.formats, jsonschema)",
        (
            "core/forms.py",
            "core/formats.py",
            "jsonschema",
            "referencing",
            "rpds",
        ),
    ),
    ("crypto (Fernet, HMAC, hashlib)", ("cryptography", "core/crypto.py", "hmac", "hashlib")),
    ("pluggy hook calls", ("pluggy/",)),
    ("civic storage (civic.storage, civic.tables)", ("core/storage.py", "core/tables.py")),
    (
        "civic engine and turn (civic.engine, civic.turn, civic.states)",
        (
            "core/engine.py",
            "core/turn.py",
            "core/states.py",
        ),
    ),
    ("civic default plugins (routing, topics, survey...)", ("core/default_plugins/",)),
    ("department plugins (civic_cac, civic_procon, civic_jsm)", ("plugins/",)),
    ("civic other", ("core/",)),
    ("attrs (constructors, validators)", ("attr/", "<attrs generated")),
    ("datetime, zoneinfo", ("datetime", "zoneinfo")),
    ("logging", ("logging/",)),
)

#: Entry points whose inclusive time is worth knowing: (label, file parts, function).
#: A label ending in "*" is a generator (a ``@contextmanager``): cProfile counts each
#: resume as a call, so its uses are half its calls.
ENTRY_POINTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Engine.handle (everything)", ("core/engine.py",), "handle"),
    ("Turn.process (the conversation's step)", ("core/turn.py",), "process"),
    ("read(): reading the message once", ("core/reading.py",), "read"),
    ("Storage.transaction (connection, BEGIN, COMMIT) *", ("core/storage.py",), "transaction"),
    ("Transaction.savepoint (SAVEPOINT, RELEASE) *", ("core/storage.py",), "savepoint"),
    ("Connection.execute (SQLAlchemy's execute path)", ("sqlalchemy/engine/base.py",), "execute"),
    ("  _execute_context (after compiling)", ("sqlalchemy/engine/base.py",), "_execute_context"),
    (
        "  _compile_w_cache (cache key, compiled cache)",
        ("sqlalchemy/sql/elements.py",),
        "_compile_w_cache",
    ),
    (
        "  _init_compiled (parameters, bind processors)",
        ("sqlalchemy/engine/default.py",),
        "_init_compiled",
    ),
    ("  event dispatch (listener iteration)", ("sqlalchemy/event/attr.py",), "__iter__"),
    (
        "  _JoinedDispatcher.__getattr__ (OptionEngine events)",
        ("sqlalchemy/event/base.py",),
        "__getattr__",
    ),
    ("pool checkout (_ConnectionFairy._checkout)", ("sqlalchemy/pool/base.py",), "_checkout"),
    ("pool return (_finalize_fairy)", ("sqlalchemy/pool/base.py",), "_finalize_fairy"),
    ("sqlite3 Cursor.execute (C)", ("~",), "<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("sqlite3 Connection.commit (C)", ("~",), "<method 'commit' of 'sqlite3.Connection' objects>"),
    ("Transaction.add_inbound", ("core/storage.py",), "add_inbound"),
    ("Transaction.add_reply (message and outbox)", ("core/storage.py",), "add_reply"),
    ("Transaction.open_conversation", ("core/storage.py",), "open_conversation"),
    ("Transaction.update_conversation", ("core/storage.py",), "update_conversation"),
    ("engine.queue (replies into the message log and outbox)", ("core/engine.py",), "queue"),
    ("civic.text.fold", ("core/text.py",), "fold"),
    ("re._compile (the regex cache look-up)", ("re/__init__.py",), "_compile"),
    ("re._compiler.compile (real regex compiles)", ("re/_compiler.py",), "compile"),
    ("Context.load (JSON in)", ("core/context.py",), "load"),
    ("Context.dump (JSON out)", ("core/context.py",), "dump"),
    ("json.dumps", ("json/__init__.py",), "dumps"),
    ("json.loads", ("json/__init__.py",), "loads"),
    (
        "pluggy hook calls (HookCaller.__call__)",
        ("pluggy/_caller.py", "pluggy/_hooks.py"),
        "__call__",
    ),
    ("Texts.__call__ (filling a template)", ("core/texts.py",), "__call__"),
    ("FormRunner.step (forms)", ("core/forms.py",), "step"),
    ("Fernet encrypt", ("cryptography/fernet.py",), "encrypt"),
    ("Fernet decrypt", ("cryptography/fernet.py",), "decrypt"),
    ("Engine.notify (hooks after the commit)", ("core/engine.py",), "notify"),
)
#: Statements by kind: the first word and the table (or SAVEPOINT, BEGIN...).
STATEMENT = re.compile(
    r"^\s*(?P<verb>\w+)(?:.*?\b(?:FROM|INTO|UPDATE)\s+\"?(?P<table>\w+))?", re.S | re.I
)


def where(key: tuple[str, int, str]) -> str:
    """A profile entry's place as ``file:function``, the file's path shortened."""
    file, line, name = key
    for marker in ("site-packages/", "/core/", "/plugins/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            if marker in ("/core/", "/plugins/"):
                file = marker.strip("/") + "/" + file
            break
    return f"{file}:{line}({name})" if file != "~" else name


def component(key: tuple[str, int, str]) -> str:
    """The component a profile entry belongs to (``""`` for a builtin of no component)."""
    file, _, name = key
    text = f"{file} {name}"
    for label, parts in COMPONENTS:
        if any(part in text for part in parts):
            return label
    return "Python and the standard library, other" if file != "~" else ""


def components(raw: dict[Any, Any]) -> Counter[str]:
    """Self seconds per component; a builtin of no component of its own (``len``,
    ``getattr``, ``dict.get``...) counts for the components of its callers, in
    proportion to the time each caller spent in it."""
    found: Counter[str] = Counter()
    for key, (_, _, self_s, _, callers) in raw.items():
        label = component(key)
        if label:
            found[label] += self_s
            continue
        spent = sum(entry[2] for entry in callers.values())
        if not spent:
            found["builtins, caller unknown"] += self_s
            continue
        for caller, entry in callers.items():
            found[component(caller) or "builtins, caller unknown"] += self_s * entry[2] / spent
    return found


def census(url_kind: str | None, warm: list[Any], steps: list[Any]) -> Counter[str]:
    """The SQL statements civic sent for ``steps``, by kind (``INSERT message``)."""
    with fresh("census", url_kind) as url:
        engine = bench_engine.build_engine(url)
        for step in warm:
            engine.handle(bench_engine.inbound(step))
        sent: Counter[str] = Counter()

        def count(statement: str) -> None:
            match = STATEMENT.match(statement)
            if match is None:
                sent[statement[:20]] += 1
            else:
                sent[" ".join(filter(None, (match["verb"].upper(), match["table"])))] += 1

        # statements on SQLAlchemy's path, and those civic runs on the driver's cursor
        @sa.event.listens_for(engine.storage.engine, "before_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            count(statement)

        run, commit = Prepared.run, Transaction.commit

        def counted_run(self: Prepared, *args: Any) -> Any:
            count(self.sql)
            return run(self, *args)

        def counted_commit(self: Transaction) -> None:
            count("COMMIT")
            commit(self)

        Prepared.run, Transaction.commit = counted_run, counted_commit  # type: ignore[method-assign]
        try:
            for step in steps:
                engine.handle(bench_engine.inbound(step))
        finally:
            Prepared.run, Transaction.commit = run, commit  # type: ignore[method-assign]
            engine.storage.close()
    return sent


@dataclass
class Profiled:
    """One profiled run and the unprofiled run beside it."""

    messages: int
    timer: str
    plain_wall_ms: float
    plain_cpu_ms: float
    profiled_ms: float
    stats: pstats.Stats
    statements: Counter[str]


def profile(url_kind: str | None, messages: int, timer: str = "wall") -> Profiled:
    """Play the mix unprofiled, then profiled (``timer``: ``cpu`` or ``wall``), then
    once more counting its SQL statements."""
    warm, steps = bench_engine.warm_up(), bench_engine.workload(messages)[:messages]
    with fresh("profile_plain", url_kind) as url:
        plain = bench_engine.run_civic(url, warm, steps, budget=600).timings
    steps = steps[: plain.messages]
    clock = time.process_time if timer == "cpu" else time.perf_counter
    with fresh("profile", url_kind) as url:
        engine = bench_engine.build_engine(url)
        for step in warm:
            engine.handle(bench_engine.inbound(step))
        inbounds = [bench_engine.inbound(step) for step in steps]
        profiler = cProfile.Profile(clock)
        started = clock()
        profiler.enable()
        for message in inbounds:
            engine.handle(message)
        profiler.disable()
        profiled = clock() - started
        engine.storage.close()
    done = plain.messages
    return Profiled(
        messages=done,
        timer=timer,
        plain_wall_ms=plain.elapsed * 1000 / done,
        plain_cpu_ms=sum(plain.cpu) / 1e6 / done,
        profiled_ms=profiled * 1000 / done,
        stats=pstats.Stats(profiler),
        statements=census(url_kind, warm, steps),
    )


def report(found: Profiled, top: int) -> str:
    """The profile as Markdown."""
    raw = found.stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    messages = found.messages
    per = 1000 / messages  # seconds in the profile -> ms per message
    clock = "CPU" if found.timer == "cpu" else "wall"
    lines = [
        f"{messages:,} inbound messages of the engine benchmark's mix. Unprofiled:"
        f" {found.plain_cpu_ms:.3f} ms CPU and {found.plain_wall_ms:.3f} ms wall per message;"
        f" under cProfile ({clock} clock): {found.profiled_ms:.3f} ms per message.",
        "",
        "**SQL statements per message**:",
        "",
        "| statement | per message |",
        "| --- | ---: |",
    ]
    for kind, count in found.statements.most_common():
        lines.append(f"| {kind} | {count / messages:.2f} |")
    lines.append(f"| all | {sum(found.statements.values()) / messages:.2f} |")
    lines += [
        "",
        "**By component** (self time of every function, grouped by module; a builtin such"
        " as `len` or `dict.get` counts for its callers' components; adds to 100 %):",
        "",
        "| component | ms per message | share |",
        "| --- | ---: | ---: |",
    ]
    for label, seconds in components(raw).most_common():
        lines.append(f"| {label} | {seconds * per:.3f} | {100 * seconds / total:.1f} % |")
    lines += [
        "",
        "**Entry points** (inclusive: with everything they call, so shares overlap;"
        " \\* a generator: uses are half its calls):",
        "",
        "| entry point | ms per message | share | calls per message |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, parts, name in ENTRY_POINTS:
        matching = [
            entry
            for key, entry in raw.items()
            if key[2] == name
            and any(part in key[0] if part != "~" else key[0] == "~" for part in parts)
        ]
        calls = sum(entry[1] for entry in matching)
        inclusive = sum(entry[3] for entry in matching)
        shown = label.replace("*", "\\*")
        if not matching:
            lines.append(f"| {shown} | 0 | 0 % | 0 |")
            continue
        lines.append(
            f"| {shown} | {inclusive * per:.3f} | {100 * inclusive / total:.1f} % |"
            f" {calls / messages:.1f} |"
        )
    lines += [
        "",
        f"**Top {top} by cumulative time**:",
        "",
        "| function | calls per message | self ms per message | cumulative ms per message |",
        "| --- | ---: | ---: | ---: |",
    ]
    ordered = sorted(raw.items(), key=lambda item: item[1][3], reverse=True)
    for key, (_, calls, self_s, cumulative, _) in ordered[:top]:
        lines.append(
            f"| `{where(key)}` | {calls / messages:.1f} | {self_s * per:.3f} |"
            f" {cumulative * per:.3f} |"
        )
    lines += [
        "",
        f"**Top {top} by self time**:",
        "",
        "| function | calls per message | self ms per message | share |",
        "| --- | ---: | ---: | ---: |",
    ]
    ordered = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)
    for key, (_, calls, self_s, _, _) in ordered[:top]:
        lines.append(
            f"| `{where(key)}` | {calls / messages:.1f} | {self_s * per:.3f} |"
            f" {100 * self_s / total:.1f} % |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5_000, help="inbound messages")
    parser.add_argument("--top", type=int, default=25, help="functions by cumulative time")
    parser.add_argument("--database-url", help="profile on this PostgreSQL instead of SQLite")
    parser.add_argument(
        "--timer",
        choices=("cpu", "wall"),
        default="wall",
        help="the profiler's clock: wall time (default: cheap to read, so the profiler"
        " distorts least) or this process's CPU time (a system call per reading: the"
        " profiler's own cost then weighs on functions called often)",
    )
    options = parser.parse_args(argv)
    found = profile(options.database_url, options.messages, options.timer)
    print(report(found, options.top))


if __name__ == "__main__":
    main()
