"""The published HTML page, rendered by a real browser: the charts must show up.

Opens the page in headless Chromium, takes a screenshot and counts the pixels of the bar
colours (decoding the PNG with ``zlib`` and ``struct`` only). Skipped, with the reason,
when no Chromium is installed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import attrs
import pluggy
import pytest

from civic import hookspecs
from civic import storage as db
from civic.default_plugins import scoring
from civic.report import build_report, build_timeline
from civic.report_render import BAR_COLOUR, CONTACTS_COLOUR, render_html
from tests.test_report import SEED_SCOPE, seed, seed_convs

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"chromium not installed: none of {', '.join(BROWSERS)} is on PATH")


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            upper_left = previous[i - bpp] if i >= bpp else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line) if bpp == 3 else bytes(b for j, b in enumerate(line) if j % 4 != 3))
        previous = line
    return width, height, rows


def count_colour(rows: list[bytes], colour: str) -> int:
    """Pixels exactly of ``#rrggbb`` colour."""
    target = bytes.fromhex(colour.lstrip("#"))
    return sum(1 for row in rows for x in range(0, len(row), 3) if row[x : x + 3] == target)


def test_charts_render_in_chromium(tmp_path: Path):
    browser = find_chromium()
    storage = db.Storage(f"sqlite:///{tmp_path / 'civic.db'}")
    storage.migrate()
    seed(storage, seed_convs())
    manager = pluggy.PluginManager("civic")
    manager.add_hookspecs(hookspecs)
    manager.register(scoring, name="scoring")
    scope = attrs.evolve(SEED_SCOPE, by="department")
    page = tmp_path / "relatorio.html"
    report = build_report(storage, scope, manager=manager)
    page.write_text(render_html(report, "Araraquara", build_timeline(storage, scope)), "utf-8")
    storage.close()
    shot = tmp_path / "shot.png"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 2000)
    # The distribution's bars: 11 bars, the 10s bar alone is hundreds of pixels tall.
    assert count_colour(rows, BAR_COLOUR) > 5000
    assert count_colour(rows, CONTACTS_COLOUR) > 5000
