"""Write docs/plugin_hooks.md from civic.hookspecs (run: python docs/generate_hooks.py).

The reference is generated so it cannot drift from the code; tests/test_docs.py fails
when the committed file differs from what this script writes.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
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

Each hook's example is its docstring's `Example::` block, run by
`tests/test_hook_examples.py`. This file is generated from `civic/hookspecs.py` by
`docs/generate_hooks.py`.
"""


def split_example(doc: str) -> tuple[str, str | None]:
    """A hook's docstring (cleaned) and the code of its ``Example::`` block, if any."""
    text, found, example = inspect.cleandoc(doc).partition("\nExample::\n")
    return text.rstrip(), textwrap.dedent(example).strip("\n") if found else None


def _markdown(doc: str) -> str:
    """The hook's docstring with ``:param x:`` lines as a Markdown list and its example
    as a Python block."""
    text, example = split_example(doc)
    text = re.sub(r":param (\w+):", r"- `\1`:", text)
    text = re.sub(r":return:", "- returns:", text)
    text = re.sub(r":(?:class|func|meth|mod):`~?([\w.]+)`", r"`\1`", text)
    text = text.replace("``", "`")
    return text if example is None else f"{text}\n\n```python\n{example}\n```"


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
    return "\n".join(parts)


TARGET = Path(__file__).with_name("plugin_hooks.md")

if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
