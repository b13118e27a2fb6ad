"""Point 7: docs/security.md says what the code does (the figures are read from it)."""

from __future__ import annotations

from pathlib import Path

from civic import files
from civic.channels import webchat, whatsapp
from civic.config import LimitsConfig
from civic.console import web
from civic.security_headers import HEADERS

DOC = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")


def test_the_sections_a_city_s_lawyer_looks_for() -> None:
    for heading in (
        "## Threat model",
        "## Rate limits",
        "## Size limits",
        "## Security headers",
        "## Logs and traces",
        "## Spreadsheet exports",
        "## Keys and secrets",
        "#### Rotating the CPF keys",
        "### Backups",
        "## Reporting a vulnerability",
    ):
        assert f"\n{heading}\n" in DOC, heading
    for who in ("Citizens", "Attendants", "operators", "stolen database", "stolen backup"):
        assert who in DOC, who


def test_the_limits_it_states_are_the_code_s() -> None:
    defaults = LimitsConfig()
    assert f"messages_per_minute = {defaults.messages_per_minute}" in DOC
    assert f"webchat_per_ip_per_minute = {defaults.webchat_per_ip_per_minute}" in DOC
    assert f"| A WhatsApp delivery (webhook body) | {files.describe(whatsapp.BODY_LIMIT)}" in DOC
    assert f"| A web chat request body / message | {files.describe(webchat.BODY_LIMIT)}" in DOC
    assert f"{webchat.TEXT_LIMIT:,} characters (400)" in DOC
    assert f"| A console form | {files.describe(web.BODY_LIMIT)}" in DOC
    assert f"| `civic.toml` | {files.describe(files.CONFIG_LIMIT)} |" in DOC
    assert f"| `secret.key`, `cpf.key` | {files.describe(files.KEY_FILE_LIMIT)} |" in DOC
    assert f"input (text or `--input jsonl`) | {files.describe(files.LINE_LIMIT)}" in DOC


def test_every_header_it_names_is_sent() -> None:
    for name in HEADERS:
        assert f"`{name}" in DOC, name
