"""Benchmark WhatsApp deliveries end to end through ``civic serve``, and its memory.

    python benchmarks/run.py --only webhook [--deliveries N] [--database-url URL]

Starts ``civic serve`` as a city runs it (a subprocess: ``python -m civic serve --workers
N --config civic.toml --database-url URL``) in each :data:`LAYOUTS`: one worker; two
workers (``--workers 2``: uvicorn's own multiprocess supervisor); and, except with
``--quick``, two single-worker ``civic serve`` on two ports, the generator's connections
alternating between them as behind a round-robin load balancer (this layout escapes
uvicorn's ``--workers`` latency, see the notes). It drives them from this process with
a small asyncio HTTP/1.1 client on loopback (:func:`drive`): many citizens at once, each
playing a whole conversation of the engine benchmark's mix (``bench_engine.conversation``:
name and CPF, the menu by number or by words, a question, "não", a score, a comment; one
in eight a PROCON complaint through its form), one delivery after the other was
acknowledged, :data:`CONCURRENCY` deliveries in flight. Each delivery is a real WhatsApp
Cloud API webhook payload (``whatsapp_business_account``, one text message, the
citizen's contact), signed with ``X-Hub-Signature-256`` as Meta signs it; payloads and
signatures are made before the clock starts, so the generator only writes and reads.

civic acknowledges a delivery (200) after storing it in the inbox **and** handing its
message to the engine (one transaction, replies put in the outbox); its workers'
delivery loops then send the replies to a fake Graph API (:mod:`loopback`, a process of
its own, named by ``CIVIC_WHATSAPP_API_URL``) that counts every send and gives each an id.
After the load the benchmark waits for the outbox to empty, then joins civic's outbox
(``in_reply_to`` the inbound, ``provider_message_id``) with the ids the fake issued: a
delivery is **answered** when a reply to it reached the fake Graph API. Every delivery
must be; the missing are counted, with why (no reply written, or not sent).

The baseline, in the same run with the same generator and the same deliveries, is the
HTTP floor (:func:`loopback.webhook_floor`): a bare Starlette app on uvicorn, with as
many workers, that checks the signature and answers 200. Figures: deliveries/s
acknowledged, p50 / p99 acknowledgement latency (request written to response read),
deliveries answered, and the peak resident memory (``VmHWM`` of ``/proc/<pid>/status``,
read after the load) of ``civic serve``'s largest process and of all its processes
(the supervisor and its workers; shared pages count once per process), beside the
floor's; a note gives a bare ``python -c`` interpreter's. A warm-up (a few
conversations on numbers of their own, their replies drained) precedes each measure;
no delivery starts once a measure's share of the time budget is spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_engine
import sqlalchemy as sa
from databases import fresh
from table import Row, times

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The app secret both civic and the floor check signatures with.
APP_SECRET = "civic-benchmark-app-secret"
#: The city's WhatsApp number (``phone_number_id``): not in ``[whatsapp.numbers]``, so
#: every citizen gets the menu.
ACCOUNT = "106540352242900"
API_VERSION = "v23.0"
PATH = "/webhooks/whatsapp"
#: Deliveries in flight at once (each on its own keep-alive connection).
CONCURRENCY = 32
#: Citizens in a conversation at once, per delivery in flight (the others wait their
#: turn to start, so a run cut by its budget still plays the whole mix).
TALKING = 4
FLOOR = "bare Starlette webhook (HTTP floor)"
#: The most seconds a server may take to start.
STARTUP_TIMEOUT = 60.0
#: After the load, the outbox is waited for while it shrinks: this many seconds without
#: progress, or :data:`DRAIN_TIMES` the measure's budget (at least :data:`DRAIN_LEAST`
#: seconds) in all, end the wait; what is left pending is reported.
DRAIN_STALL = 15.0
DRAIN_TIMES = 4
DRAIN_LEAST = 60.0
#: The first conversation number of the warm-up's citizens (apart from the measured).
WARM_FIRST = 10**7
MIB = 1024 * 1024

Result = tuple[list[Row], list[str]]


# -- the deliveries ------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One signed webhook delivery of one citizen's message."""

    citizen: int
    message_id: str
    body: bytes
    signature: str


def phone(citizen: int) -> str:
    """The citizen's WhatsApp number (``wa_id``): 55 35 9 and eight digits."""
    return f"55359{citizen:08d}"


def delivery(citizen: int, position: int, text: str, timestamp: int) -> Delivery:
    """The Cloud API webhook payload of one text message, signed over its raw bytes
    (compact ASCII JSON, as Meta sends it)."""
    number = phone(citizen)
    name = bench_engine.NAMES[citizen % len(bench_engine.NAMES)]
    message_id = f"wamid.bench.{citizen}.{position}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "553534350000", "phone_number_id": ACCOUNT},
        "contacts": [{"profile": {"name": name}, "wa_id": number}],
        "messages": [
            {
                "from": number,
                "id": message_id,
                "timestamp": str(timestamp),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Delivery(citizen, message_id, body, f"sha256={digest}")


def conversations(
    deliveries: int, *, first: int = 0, each: int | None = None
) -> list[list[Delivery]]:
    """Whole conversations of the engine benchmark's mix (their first ``each`` messages
    when given), one per citizen from the ``first``-th on, until they hold
    ``deliveries`` deliveries (the last one cut)."""
    found: list[list[Delivery]] = []
    timestamp = int(time.time())
    left, citizen = deliveries, first
    while left > 0:
        lines = bench_engine.conversation(citizen)[:each][:left]
        found.append([delivery(citizen, n, text, timestamp) for n, text in enumerate(lines)])
        left -= len(lines)
        citizen += 1
    return found


# -- the load generator --------------------------------------------------------------------


@dataclass
class Load:
    """What the generator saw: latencies of acknowledged deliveries, refusals by status
    (0: the connection failed), and when each acknowledged delivery was written."""

    latencies: list[float] = field(default_factory=list)
    sent_at: dict[str, float] = field(default_factory=dict)
    refused: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def acknowledged(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.acknowledged / self.elapsed if self.elapsed else math.nan

    def percentiles(self) -> tuple[float, float]:
        """p50 and p99 acknowledgement latency, in milliseconds."""
        return percentiles(self.latencies)


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 of ``seconds``, in milliseconds (NaN under two values)."""
    if len(seconds) < 2:
        return math.nan, math.nan
    p99 = statistics.quantiles(seconds, n=100, method="inclusive")[98]
    return statistics.median(seconds) * 1000, p99 * 1000


def request(delivery: Delivery, port: int) -> bytes:
    """The whole HTTP/1.1 request of a delivery, as Meta's servers send it."""
    head = (
        f"POST {PATH} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "User-Agent: facebookexternalua\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(delivery.body)}\r\n"
        f"X-Hub-Signature-256: {delivery.signature}\r\n"
        "\r\n"
    )
    return head.encode() + delivery.body


async def status_of(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response: its status, and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, keep = 0, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep


async def drive(
    ports: Sequence[int], citizens: Sequence[Sequence[Delivery]], concurrency: int, budget: float
) -> Load:
    """Play every citizen's deliveries in order, each after the previous one was
    answered, ``concurrency`` at once on as many connections (spread over ``ports`` in
    turn). :data:`TALKING` × ``concurrency`` citizens are in a conversation at once,
    taking turns; when one ends, the next begins. No delivery is started after
    ``budget`` seconds."""
    load = Load()
    requests = {
        port: {d.message_id: request(d, port) for deliveries in citizens for d in deliveries}
        for port in ports
    }
    ready: asyncio.Queue[deque[Delivery] | None] = asyncio.Queue()
    queues = [deque(deliveries) for deliveries in citizens]
    talking = TALKING * concurrency
    waiting = deque(queues[talking:])
    for queue in queues[:talking]:
        ready.put_nowait(queue)
    workers = min(concurrency, len(queues))
    finished = 0
    started = time.monotonic()
    deadline = started + budget

    def done(queue: deque[Delivery]) -> None:
        """Hand the citizen's next delivery on, or count the citizen finished and let
        the next one start (none once the budget is spent)."""
        nonlocal finished
        still = time.monotonic() < deadline
        if queue and still:
            ready.put_nowait(queue)
            return
        finished += 1
        if waiting and still:
            ready.put_nowait(waiting.popleft())
        elif not still:
            finished += len(waiting)
            waiting.clear()
        if finished == len(queues):
            for _ in range(workers):
                ready.put_nowait(None)

    async def connection(port: int) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while (queue := await ready.get()) is not None:
            if time.monotonic() >= deadline:  # the budget is spent: the citizen stops
                done(queue)
                continue
            item = queue.popleft()
            raw = requests[port][item.message_id]
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                sent = time.monotonic()
                writer.write(raw)
                status, keep = await status_of(reader)
                answered = time.monotonic()
            except (OSError, asyncio.IncompleteReadError, ValueError):
                load.refused[0] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                done(queue)
                continue
            if status == 200:
                load.latencies.append(answered - sent)
                load.sent_at[item.message_id] = sent
            else:
                load.refused[status] += 1
            if not keep and writer is not None:
                writer.close()
                reader = writer = None
            done(queue)
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection(ports[n % len(ports)]) for n in range(workers)))
    load.elapsed = time.monotonic() - started
    return load


def play(
    ports: Sequence[int], citizens: Sequence[Sequence[Delivery]], concurrency: int, budget: float
) -> Load:
    """:func:`drive` on a new event loop."""
    return asyncio.run(drive(ports, citizens, concurrency, budget))


# -- the servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A server this benchmark started: its process, port and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def serving(
    command: Sequence[str], env: dict[str, str], port: int, log: Path, workers: int
) -> Iterator[Server]:
    """Start ``command`` (a uvicorn server on ``port``, in a session of its own), wait
    until its ``workers`` report that their application started and ``/healthz``
    answers; stop it (SIGTERM, then SIGKILL to its group) at the end."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(command),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )
    server = Server(process, port, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            started = log.read_text(errors="replace").count("Application startup complete")
            if started >= workers and healthy(port):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[2:4]} did not start:\n{server.tail()}")
            time.sleep(0.05)
        yield server
    finally:
        stop(process)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started, and whatever it started (its process group)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the group is the server's own session
    process.wait()


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (Linux ``/proc``; ``[pid]`` elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = entry.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def peak_rss(pid: int) -> float:
    """The peak resident set (``VmHWM``) of one process, in MiB (NaN if unknown)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MIB
    return math.nan


def memory(pid: int) -> tuple[float, float, int]:
    """Peak resident memory of ``pid``'s process tree: its largest process and the sum,
    in MiB, and how many processes there were."""
    peaks = [peak_rss(p) for p in descendants(pid)]
    peaks = [p for p in peaks if not math.isnan(p)] or [math.nan]
    return max(peaks), sum(peaks), len(peaks)


def bare_python_rss() -> float:
    """``VmHWM`` of a bare ``python -c`` (the interpreter alone), in MiB."""
    code = "print(open('/proc/self/status').read())"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return math.nan
    for line in done.stdout.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MIB
    return math.nan


def stats(port: int) -> dict[str, Any]:
    """What the fake Graph API saw."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30) as answer:
        found: dict[str, Any] = json.load(answer)
        return found


# -- one measure ---------------------------------------------------------------------------


def city_config(folder: Path) -> Path:
    """``examples/civic.toml`` without its extra survey questions (the survey is the
    score and a comment, as in the engine benchmark), written in ``folder``."""
    text = (ROOT / "examples" / "civic.toml").read_text(encoding="utf-8")
    text = text.split("\n# Extra survey questions")[0]
    if "[survey.questions" in text:
        raise RuntimeError("examples/civic.toml changed: cannot leave its survey questions out")
    path = folder / "civic.toml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def environment(folder: Path, graph_port: int) -> dict[str, str]:
    """The environment of the servers: civic's WhatsApp settings, pointed at the fake
    Graph API, and an instance folder of the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    (folder / "home").mkdir(exist_ok=True)
    env.update(
        CIVIC_HOME=str(folder / "home"),
        CIVIC_SECRET="civic-benchmark-instance-secret",
        CIVIC_WHATSAPP_APP_SECRET=APP_SECRET,
        CIVIC_WHATSAPP_VERIFY_TOKEN="civic-benchmark-verify-token",
        CIVIC_WHATSAPP_ACCESS_TOKEN="civic-benchmark-access-token",
        CIVIC_WHATSAPP_API_URL=f"http://127.0.0.1:{graph_port}/{API_VERSION}",
    )
    return env


def uvicorn_command(app: str, port: int, workers: int) -> list[str]:
    """uvicorn serving one of :mod:`loopback`'s apps, with civic's uvicorn settings."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--proxy-headers",
        "--no-access-log",
    ]


def drained(url: str, limit: float) -> int:
    """Wait until civic's outbox has nothing pending, as long as it keeps shrinking
    (:data:`DRAIN_STALL` seconds without progress, or ``limit`` seconds in all, end the
    wait); return how many are still pending."""
    engine = sa.create_engine(url)
    query = sa.text("SELECT count(*) FROM outbox WHERE status = 'pending'")
    started = last = time.monotonic()
    fewest = math.inf
    try:
        while True:
            with engine.connect() as conn:
                pending = int(conn.execute(query).scalar_one())
            now = time.monotonic()
            if pending < fewest:
                fewest, last = pending, now
            if not pending or now - last > DRAIN_STALL or now - started > limit:
                return pending
            time.sleep(0.1)
    finally:
        engine.dispose()


@dataclass
class Answers:
    """How the acknowledged deliveries were answered."""

    answered: int
    latencies: list[float]
    unwritten: int
    unsent: Counter[str]
    closed: int
    whole: int


def answers(url: str, load: Load, seen: dict[str, Any], citizens: Sequence[int]) -> Answers:
    """Join civic's outbox with the ids the fake Graph API issued: which acknowledged
    deliveries were answered, and how long the first reply took to reach the fake."""
    issued: dict[str, list[Any]] = seen["issued"]
    replies: dict[str, list[tuple[str | None, str]]] = {}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for message_id, provider_id, status in conn.execute(
                sa.text(
                    "SELECT m.channel_message_id, o.provider_message_id, o.status"
                    " FROM outbox o JOIN message m ON m.id = o.in_reply_to"
                    " WHERE o.channel = 'whatsapp'"
                )
            ):
                replies.setdefault(message_id, []).append((provider_id, status))
            states: dict[str, set[str]] = {}
            for address, state in conn.execute(
                sa.text("SELECT address, state FROM conversation WHERE channel = 'whatsapp'")
            ):
                states.setdefault(address, set()).add(state)
    finally:
        engine.dispose()
    found = Answers(0, [], 0, Counter(), 0, len(citizens))
    for message_id, sent in load.sent_at.items():
        theirs = replies.get(message_id, [])
        arrivals = [issued[p][0] for p, _ in theirs if p in issued]
        if arrivals:
            found.answered += 1
            found.latencies.append(min(arrivals) - sent)
        elif not theirs:
            found.unwritten += 1
        else:
            found.unsent.update(status for _, status in theirs)
    found.closed = sum(states.get(phone(c)) == {"closed"} for c in citizens)
    return found


@dataclass
class Measure:
    """One server under the load: the generator's view, its memory, and (civic only)
    how its deliveries were answered and how many sends the fake Graph API got."""

    load: Load
    largest: float
    total: float
    processes: int
    answers: Answers | None = None
    sends: int = 0
    refused_sends: int = 0
    pending: int = 0
    errors: int = 0
    drain: float = 0.0

    @property
    def sends_per_second(self) -> float:
        """Sends the fake Graph API received per second, from the start of the load to
        the outbox's end of the wait."""
        return times(self.sends, self.load.elapsed + self.drain)


@dataclass(frozen=True)
class Layout:
    """How the servers run: ``processes`` servers on ports of their own (the generator
    spreads its connections over them in turn, as a round-robin load balancer does),
    each with ``workers`` uvicorn workers."""

    processes: int
    workers: int

    @property
    def label(self) -> str:
        if self.processes > 1:
            return f"{self.processes} processes × {self.workers} worker, round-robin"
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}"


#: One worker; ``civic serve --workers 2``; two ``civic serve`` on two ports.
LAYOUTS: tuple[Layout, ...] = (Layout(1, 1), Layout(1, 2), Layout(2, 1))


def measure(
    commands: Sequence[Sequence[str]],
    env: dict[str, str],
    folder: Path,
    workers: int,
    citizens: list[list[Delivery]],
    concurrency: int,
    budget: float,
    *,
    url: str | None = None,
    graph_port: int = 0,
    label: str,
) -> Measure:
    """Start the servers, warm them up, play ``citizens`` for at most ``budget``
    seconds, read their memory; for civic (``url`` given) wait for its outbox to empty
    and join what was answered."""
    ports = [int(command[list(command).index("--port") + 1]) for command in commands]
    warm = conversations(3 * concurrency, first=WARM_FIRST, each=3)
    limit = max(DRAIN_TIMES * budget, DRAIN_LEAST)
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                serving(command, env, port, folder / f"{label}-{port}.log", workers)
            )
            for command, port in zip(commands, ports, strict=True)
        ]
        play(ports, warm, concurrency, budget)
        if url is not None:
            drained(url, limit)
            before = stats(graph_port)
        load = play(ports, citizens, concurrency, budget)
        waited = time.monotonic()
        pending = drained(url, limit) if url is not None else 0
        drain = time.monotonic() - waited
        peaks = [memory(server.process.pid) for server in servers]
    errors = sum(
        server.log.read_text(errors="replace").count('"level": "error"') for server in servers
    )
    found = Measure(
        load,
        largest=max(peak[0] for peak in peaks),
        total=sum(peak[1] for peak in peaks),
        processes=sum(peak[2] for peak in peaks),
        pending=pending,
        errors=errors,
        drain=drain,
    )
    if url is not None:
        after = stats(graph_port)
        whole = [
            queue[0].citizen
            for queue in citizens
            if all(d.message_id in load.sent_at for d in queue)
            and len(queue) == len(bench_engine.conversation(queue[0].citizen))
        ]
        found.answers = answers(url, load, after, whole)
        found.sends = after["sends"] - before["sends"]
        found.refused_sends = after["refused"] - before["refused"]
    return found


def civic_command(port: int, workers: int, config: Path, url: str) -> list[str]:
    """``civic serve`` as a city starts it."""
    return [
        *(sys.executable, "-m", "civic", "serve", "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(workers), "--config", str(config), "--database-url", url),
    ]


# -- the rows of the table -----------------------------------------------------------------


def run(
    *,
    deliveries: int,
    budget: float,
    database_url: str | None = None,
    concurrency: int = CONCURRENCY,
    layouts: Sequence[Layout] = LAYOUTS,
) -> Result:
    """civic serve and the HTTP floor in each layout, on one database kind; each plays
    ``deliveries`` for at most ``budget / (2 × len(layouts))`` seconds."""
    where = "PostgreSQL" if database_url else "SQLite"
    share = budget / (2 * len(layouts))
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="civic-bench-webhook-") as name:
        folder = Path(name)
        config = city_config(folder)
        graph_port = free_port()
        env = environment(folder, graph_port)
        graph = uvicorn_command("loopback:graph_app", graph_port, 1)
        with serving(graph, env, graph_port, folder / "graph.log", 1):
            for number, layout in enumerate(layouts):
                citizens = conversations(deliveries)
                floor = measure(
                    [
                        uvicorn_command("loopback:webhook_floor", free_port(), layout.workers)
                        for _ in range(layout.processes)
                    ],
                    env,
                    folder,
                    layout.workers,
                    citizens,
                    concurrency,
                    share,
                    label=f"floor-{number}",
                )
                with fresh(f"webhook{number}", database_url) as url:
                    civic = measure(
                        [
                            civic_command(free_port(), layout.workers, config, url)
                            for _ in range(layout.processes)
                        ],
                        env,
                        folder,
                        layout.workers,
                        citizens,
                        concurrency,
                        share,
                        url=url,
                        graph_port=graph_port,
                        label=f"civic-{number}",
                    )
                bench = f"webhook, {where}, {layout.label}"
                rows += webhook_rows(bench, civic, floor)
                notes += webhook_notes(bench, civic, floor, deliveries, concurrency)
    notes.append(
        f"webhook, {where}: a bare `python -c` interpreter peaks at"
        f" {bare_python_rss():.1f} MiB resident. N workers are `civic serve --workers N`"
        " (uvicorn's multiprocess supervisor, N workers); N processes are N `civic serve`"
        " on N ports, the generator's connections spread over them in turn. uvicorn runs"
        " with httptools and uvloop when installed (civic depends on both); the load"
        " generator, the fake Graph API and the floor share the machine's cores."
    )
    if any(layout.workers > 1 for layout in layouts):
        notes.append(
            f"webhook, {where}: with --workers N, uvicorn's workers get a listening socket"
            " on which asyncio leaves Nagle's algorithm on (Kludex/uvicorn#3149): civic"
            " serve sets TCP_NODELAY on every connection itself (civic.http_protocol); the"
            " floor is plain uvicorn."
        )
    return rows, notes


def webhook_rows(bench: str, civic: Measure, floor: Measure) -> list[Row]:
    """Throughput, latency, answers and memory, each beside the floor."""
    assert civic.answers is not None
    share = 100 * times(civic.load.per_second, floor.load.per_second)
    mine, theirs = civic.load.percentiles(), floor.load.percentiles()
    acknowledged = civic.load.acknowledged
    answered = civic.answers.answered
    limit = 150 * 1000 * 1000 / MIB  # 150 MB in MiB
    return [
        Row(
            bench,
            "deliveries/s acknowledged",
            civic.load.per_second,
            FLOOR,
            floor.load.per_second,
            ratio=f"{share:.1f} % of floor",
            target="≥ 1,000/s",
            met=civic.load.per_second >= 1000,
        ),
        Row(
            bench,
            "p50 / p99 acknowledgement ms",
            mine,
            FLOOR,
            theirs,
            ratio=" / ".join(f"{times(a, b):.1f}×" for a, b in zip(mine, theirs, strict=True))
            + " the time",
            target="p99 ≤ 50 ms",
            met=mine[1] <= 50,
            unit="ms",
        ),
        Row(
            bench,
            "deliveries answered (replies at the fake Graph API)",
            float(answered),
            "deliveries acknowledged",
            float(acknowledged),
            ratio=f"{100 * times(answered, acknowledged):.1f} % answered",
            target="every delivery",
            met=acknowledged > 0 and answered == acknowledged,
        ),
        Row(
            bench,
            "peak resident memory, largest process (MiB)",
            civic.largest,
            f"{FLOOR}, same load",
            floor.largest,
            ratio=f"{times(civic.largest, floor.largest):.1f}× the floor",
            target="≤ 150 MB",
            met=civic.largest <= limit,
            unit="MiB",
        ),
        Row(
            bench,
            f"peak resident memory, all {processes(civic.processes)} (MiB)",
            civic.total,
            f"{FLOOR}, {processes(floor.processes)}",
            floor.total,
            ratio=f"{times(civic.total, floor.total):.1f}× the floor",
            unit="MiB",
        ),
    ]


def processes(count: int) -> str:
    return f"{count} process" if count == 1 else f"{count} processes"


def webhook_notes(
    bench: str, civic: Measure, floor: Measure, deliveries: int, concurrency: int
) -> list[str]:
    """What was played, how the replies went, and warnings for what went wrong."""
    answers = civic.answers
    assert answers is not None
    load = civic.load
    reply = percentiles(answers.latencies)
    found = [
        f"{bench}: {load.acknowledged:,} deliveries acknowledged in {load.elapsed:.1f} s"
        f" ({concurrency} in flight); the outbox emptied {civic.drain:.1f} s after the last"
        f" one; the fake Graph API received {civic.sends:,} sends (a reply with choices may"
        f" take two), {civic.sends_per_second:,.0f}/s from the first delivery to the empty"
        f" outbox; the first reply to a delivery reached it p50 {reply[0]:,.0f} ms / p99"
        f" {reply[1]:,.0f} ms after the delivery was written; {answers.closed} of"
        f" {answers.whole} conversations played to their end closed."
    ]
    if load.acknowledged + sum(load.refused.values()) < deliveries:
        found.append(
            f"{bench}: the time budget allowed {load.acknowledged:,} of {deliveries:,}"
            f" deliveries (the floor: {floor.load.acknowledged:,})."
        )
    missing = load.acknowledged - answers.answered
    if missing or civic.pending or civic.refused_sends:
        unsent = ", ".join(f"{n} {status}" for status, n in answers.unsent.items() if n)
        found.append(
            f"WARNING {bench}: {missing} acknowledged deliveries not answered"
            f" ({answers.unwritten} without any reply written; replies not sent: {unsent or 0});"
            f" {civic.pending} still pending after the wait; {civic.refused_sends} sends"
            " refused by the fake Graph API."
        )
    if civic.errors:
        found.append(f"WARNING {bench}: civic serve logged {civic.errors} errors.")
    for who, measure in (("civic", civic), ("floor", floor)):
        if measure.load.refused:
            statuses = ", ".join(f"{n}× {s or 'connection failed'}" for s, n in sorted(
                measure.load.refused.items()))  # fmt: skip
            found.append(f"WARNING {bench}: {who} refused deliveries: {statuses}.")
    return found


if __name__ == "__main__":  # run.py --only webhook
    import run as runner

    sys.exit(runner.main(["--only", "webhook", *sys.argv[1:]]))
