"""What the browser says about a request's origin, for every page civic serves.

The web chat and the console both refuse requests another site made a browser send;
both mark their cookies Secure when the browser used https, also behind a proxy.
"""

from __future__ import annotations

from starlette.requests import Request


def scheme(request: Request) -> str:
    """``https`` when the browser used it, also behind a proxy (``X-Forwarded-Proto``)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded or request.url.scheme


def from_same_site(request: Request) -> bool:
    """Whether the request came from civic's own pages (``Sec-Fetch-Site`` and ``Origin``,
    when the browser sends them, name civic's own origin)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    own = f"{scheme(request)}://{host.split(',')[0].strip()}".lower()
    return origin.lower() == own
