"""Point 3: security headers and a strict Content-Security-Policy on every response."""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from collections.abc import Iterator

import pytest

from civic import accounts
from civic.channels import Host
from civic.security_headers import HSTS
from civic.storage import Storage
from tests.test_console import PASSWORDS, cac_protocol, sign_in, waiting_in_procon
from tests.test_webchat import make_app, make_host

with warnings.catch_warnings():  # Starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

#: What every response carries, whichever route answered.
EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


@pytest.fixture
def host(storage: Storage) -> Host:
    host = make_host(storage)
    accounts.add_agent(storage, "Rita", PASSWORDS["Rita"], [], admin=True, now=host.engine.clock())
    return host


@pytest.fixture
def client(host: Host) -> Iterator[TestClient]:
    with TestClient(make_app(host), follow_redirects=False) as browser:
        yield browser


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as directive → sources."""
    found = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


def check_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    where = f"{response.request.method} {response.request.url.path}"  # type: ignore[attr-defined]
    for name, value in EVERYWHERE.items():
        assert headers.get(name) == value, f"{where}: {name}"
    assert headers.get("referrer-policy") in ("no-referrer", "same-origin"), where
    assert "camera=()" in headers.get("permissions-policy", ""), where
    csp = policy(headers.get("content-security-policy", ""))
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("default-src") == ["'none'"], where
    for directive in ("script-src", "style-src", "default-src"):
        sources = csp.get(directive, [])
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, where
        assert "*" not in sources and "data:" not in sources, where


def check_html(response: object) -> None:
    """An HTML page runs no inline script or style its policy does not name by hash,
    and has no inline event handler or style attribute (a strict policy blocks them)."""
    html = response.text  # type: ignore[attr-defined]
    csp = policy(response.headers["content-security-policy"])  # type: ignore[attr-defined]
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        for body in re.findall(rf"<{tag}(?![^>]*\bsrc=)[^>]*>(.*?)</{tag}>", html, re.S):
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp.get(directive, []), f"inline {tag} not hashed"
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "an inline style attribute"


def test_every_page_and_answer_has_the_headers(host: Host, client: TestClient) -> None:
    conversation = waiting_in_procon(host)
    protocol = cac_protocol(host)
    public = ["/chat", "/console/login", "/healthz", "/readyz", "/nowhere", "/console/static/x"]
    for path in public:
        check_headers(client.get(path))
    client.get("/chat")
    check_headers(client.get("/chat/messages"))
    check_headers(client.post("/chat/messages", content=b"{}"))  # refused: still headed
    check_headers(client.get("/console"))  # the redirect to sign in
    sign_in(client, "Rita")
    pages = [
        "/console",
        "/console/queues",
        f"/console/conversations/{conversation}",
        f"/console/conversations/{conversation}/history",
        "/console/protocols",
        f"/console/protocols/{protocol}",
        "/console/canned",
        "/console/reports",
        "/console/citizens",
        "/console/static/console.js",
        "/console/static/console.css",
    ]
    html_pages = 0
    for path in [*pages, "/chat", "/console/login"]:
        response = client.get(path)
        assert response.status_code in (200, 303), path
        check_headers(response)
        if response.headers.get("content-type", "").startswith("text/html"):
            html_pages += 1
            check_html(response)
    assert html_pages >= 8


def test_a_route_s_own_policy_is_kept(client: TestClient) -> None:
    chat = policy(client.get("/chat").headers["content-security-policy"])
    assert chat["script-src"][0].startswith("'sha256-")  # the web chat's own, by hash
    console = policy(client.get("/console/login").headers["content-security-policy"])
    assert console["script-src"] == ["'self'"]


def test_hsts_only_over_https(host: Host) -> None:
    with TestClient(make_app(host), base_url="https://testserver") as secure:
        assert secure.get("/healthz").headers["strict-transport-security"] == HSTS
    with TestClient(make_app(host)) as plain:
        assert "strict-transport-security" not in plain.get("/healthz").headers
