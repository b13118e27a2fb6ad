"""Reading the files an operator names, never more than a limit.

Every file civic reads because an operator named it (``civic.toml``, a form given to
``civic forms validate``, the instance's key files, the lines of ``civic run``'s input)
is read through :func:`read_bytes` or :func:`read_text`: at most ``limit`` bytes are
read, so a mistake such as ``civic forms validate /dev/zero`` (or a named pipe, or a
log file named by accident) fails at once with a clear error instead of reading forever
or filling the memory.
"""

from __future__ import annotations

import os
from typing import BinaryIO

#: ``civic.toml``: a city's whole configuration is a few KB.
CONFIG_LIMIT = 1024 * 1024
#: A form's JSON Schema (civic's largest is under 10 KB).
FORM_LIMIT = 1024 * 1024
#: ``secret.key``, ``cpf.key``: a few lines.
KEY_FILE_LIMIT = 64 * 1024
#: One line of ``civic run``'s input (a message is cut far shorter when read).
LINE_LIMIT = 1024 * 1024


class FileTooLarge(OSError):
    """A file (or line) is longer than civic reads; the message names it and the limit."""


def describe(limit: int) -> str:
    """``limit`` as an operator reads it: ``1 MiB``, ``64 KiB``, ``512 bytes``."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def read_bytes(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of ``path``, or :class:`FileTooLarge` when it holds more than ``limit``.

    At most ``limit + 1`` bytes are read, whatever the file is (a device, a pipe, a file
    still growing). Other failures raise :class:`OSError` as :func:`open` does.
    """
    with open(path, "rb") as handle:
        return read_limited(handle, limit, name=str(path))


def read_text(path: str | os.PathLike[str], limit: int) -> str:
    """The UTF-8 text of ``path`` (see :func:`read_bytes`); :class:`UnicodeDecodeError`
    when it is not UTF-8."""
    return read_bytes(path, limit).decode("utf-8")


def read_limited(handle: BinaryIO, limit: int, *, name: str) -> bytes:
    """At most ``limit`` bytes of an open binary ``handle``, read in pieces;
    :class:`FileTooLarge` (naming ``name``) when there are more."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = handle.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise FileTooLarge(f"{name}: larger than {describe(limit)}, civic reads no more")


def read_line(handle: BinaryIO, limit: int = LINE_LIMIT) -> bytes | None:
    """The next line of ``handle`` (with its end of line), ``None`` at the end;
    :class:`FileTooLarge` when a line runs past ``limit`` bytes without ending."""
    line = handle.readline(limit + 1)
    if not line:
        return None
    if len(line) > limit and not line.endswith(b"\n"):
        raise FileTooLarge(f"a line longer than {describe(limit)}, civic reads no more")
    return line


__all__ = [
    "CONFIG_LIMIT",
    "FORM_LIMIT",
    "KEY_FILE_LIMIT",
    "LINE_LIMIT",
    "FileTooLarge",
    "read_bytes",
    "read_limited",
    "read_line",
    "read_text",
]
