"""``civic new-plugin``: a new department package, ready to install, test and run.

The files come from the templates in ``civic/plugin_template/`` (package data): each
``*.tmpl`` file is written without its suffix, with ``{{name}}`` markers filled in, and
``{package}``, ``{slug}`` or ``{module}`` in its path replaced. The generated package
passes its own tests and ``civic plugins check`` as soon as it is installed
(``tests/test_new_plugin.py`` holds that).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from civic.cli_common import fail
from civic.plugins import DEFAULT_PLUGINS, ENTRY_POINT_GROUP, each_plugin, load_plugins
from civic.values import SLUG

if TYPE_CHECKING:
    from civic.values import Department

#: The longest department name the generator takes: it heads a line of the menu.
NAME_LIMIT = 40
#: Characters a name may not hold: they would need escaping in the generated code, or
#: read as a placeholder in civic's texts.
NAME_FORBIDDEN = frozenset('"\\{}')
#: A template's marker: ``{{slug}}``.
MARKER = re.compile(r"\{\{([a-z_]+)\}\}")
#: What a template file's name ends with.
SUFFIX = ".tmpl"


class PluginSpecError(ValueError):
    """A slug or name the generator refuses; the message says why and what to do."""


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a new department (``None`` when it can): civic's slug rule
    (:data:`civic.values.SLUG`), and not the name of one of civic's built-in plugins
    (an entry point with that name would never be loaded)."""
    if not SLUG.fullmatch(slug):
        return (
            f"{slug!r} is not a valid slug: a lower-case letter, then lower-case letters, "
            "digits, '-' or '_', at most 32 (for example: ouvidoria)"
        )
    if slug in DEFAULT_PLUGINS:
        return f"{slug!r} is the name of one of civic's built-in plugins: choose another slug"
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be the department's name (``None`` when it can)."""
    if not name.strip():
        return "the name is empty"
    if len(name) > NAME_LIMIT:
        return f"the name has {len(name)} characters: at most {NAME_LIMIT} (it heads the menu)"
    if any(char in NAME_FORBIDDEN or _invisible(char) for char in name):
        return (
            "the name may not hold quotes, backslashes, braces, control or invisible "
            "characters, or spaces other than the plain one"
        )
    return None


def _invisible(char: str) -> bool:
    """A control, format (zero-width, right-to-left marks) or unusual space character."""
    category = unicodedata.category(char)
    return category.startswith("C") or (category.startswith("Z") and char != " ")


def default_name(slug: str) -> str:
    """``Meio ambiente`` for ``meio-ambiente``."""
    return re.sub(r"[-_]+", " ", slug).strip().capitalize()


def values(slug: str, name: str) -> dict[str, str]:
    """What the templates' markers stand for."""
    from civic import __version__

    module = slug.replace("-", "_")
    major, minor = [*__version__.split("."), "0"][:2]
    greeting = f"Atendimento: {name}. Como podemos ajudar?"
    return {
        "slug": slug,
        "module": module,
        "package": f"civic_{module}",
        "project": f"civic-{slug}",
        "name_text": name,
        "name_json": json.dumps(name, ensure_ascii=False)[1:-1],
        "name_literal": json.dumps(name, ensure_ascii=False),
        "greeting_literal": json.dumps(greeting, ensure_ascii=False),
        "prefix": slug.upper(),
        "test_class": "Test" + "".join(part.capitalize() for part in re.split(r"[-_]", slug)),
        "civic_requirement": f"civic>={major}.{minor}",
    }


def template_root() -> Traversable:
    """The templates' folder, ``civic/plugin_template``."""
    return resources.files("civic").joinpath("plugin_template")


def fill(text: str, filled: Mapping[str, str], where: str = "template") -> str:
    """``text`` with each ``{{marker}}`` replaced; an unknown marker is a bug, said so."""

    def one(match: re.Match[str]) -> str:
        try:
            return filled[match.group(1)]
        except KeyError:
            raise KeyError(f"{where}: unknown marker {match.group(0)}") from None

    return MARKER.sub(one, text)


def render(slug: str, name: str) -> dict[str, str]:
    """The new package's files: relative path → content."""
    filled = values(slug, name)
    files: dict[str, str] = {}

    def walk(folder: Traversable, parts: tuple[str, ...]) -> None:
        for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
            if item.is_dir():
                walk(item, (*parts, item.name))
            elif item.name.endswith(SUFFIX):
                path = "/".join((*parts, item.name.removesuffix(SUFFIX)))
                target = path.format(**filled)
                files[target] = fill(item.read_text(encoding="utf-8"), filled, path)

    walk(template_root(), ())
    return dict(sorted(files.items(), key=lambda item: item[0].lower()))


def installed_departments() -> dict[str, tuple[Department, str]]:
    """The departments the installed plugins register: slug → (department, plugin)."""
    from civic.values import Department

    found: dict[str, tuple[Department, str]] = {}
    for plugin, caller in each_plugin("register_departments", load_plugins()):

        def register(department: object, plugin: str = plugin) -> None:
            if isinstance(department, Department):
                found.setdefault(department.slug, (department, plugin))

        try:
            caller(register=register)
        except Exception:  # a broken plugin is `civic plugins check`'s business
            continue
    return found


def clash(slug: str, name: str) -> str | None:
    """Why the installed plugins leave no room for ``slug`` or ``name`` (``None`` when
    they do): a department or a plugin already has it."""
    from civic.text import fold

    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == slug:
            return f"an installed plugin is already named {slug!r} ({entry_point.value})"
    departments = installed_departments()
    if slug in departments:
        plugin = departments[slug][1]
        return f"{slug!r} is the slug of an installed department (plugin {plugin})"
    ours = {fold(slug), fold(name)}
    prefix = values(slug, name)["prefix"]
    for other, (department, plugin) in departments.items():
        if ours & {fold(other), fold(department.name)}:
            return (
                f"the name {name!r} is already the name or slug of department {other!r} "
                f"(plugin {plugin}): citizens could not choose it by name; give --name"
            )
        if department.prefix == prefix:
            return (
                f"department {other!r} (plugin {plugin}) already numbers its protocols "
                f"{prefix}-...: choose another slug"
            )
    return None


def write(directory: Path, files: Mapping[str, str], *, force: bool = False) -> list[Path]:
    """Write ``files`` under ``directory`` (created); an existing non-empty directory is
    refused unless ``force``, which replaces the files of the same names and leaves the
    others alone."""
    if directory.exists() and not directory.is_dir():
        raise PluginSpecError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise PluginSpecError(
            f"{directory} exists and is not empty: choose another --directory, or give "
            "--force to overwrite the generated files in it"
        )
    written = []
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def new_plugin(
    slug: Annotated[
        str, typer.Argument(help="The department's slug: lower-case letters, digits, - or _.")
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="The name citizens know. Default: the slug, capitalised."),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--directory", help="Where to write it. Default: ./civic-SLUG."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty directory, replacing the files generated here.",
        ),
    ] = False,
) -> None:
    """Create a department package: civic-SLUG, with the package civic_SLUG.

    It holds the department and its hooks, a request form, its texts, a settings schema,
    a README and tests (civic's conformance suite and a conversation). Then
    `pip install -e "./civic-SLUG[test]"`, run its `pytest`, `civic plugins check`, and
    `civic run` shows it in the menu.
    """
    name = default_name(slug) if name is None else name.strip()
    problem = slug_problem(slug) or name_problem(name) or clash(slug, name)
    if problem:
        fail(problem, code=2)
    target = directory if directory is not None else Path(f"civic-{slug}")
    try:
        written = write(target, render(slug, name), force=force)
    except (PluginSpecError, OSError) as exc:
        fail(str(exc), code=2 if isinstance(exc, PluginSpecError) else 1)
    package = values(slug, name)["package"]
    shown = target.as_posix()
    if not (target.is_absolute() or shown.startswith(".")):
        shown = f"./{shown}"  # pip reads a bare name as a package to download
    typer.echo(f"Created {shown}: department {slug!r} ({name}), package {package}")
    for path in written:
        typer.echo(f"  {path.relative_to(target).as_posix()}")
    typer.echo(
        "\nNext:\n"
        f'  pip install -e "{shown}[test]"\n'
        f"  (cd {shown} && pytest)\n"
        "  civic plugins check\n"
        "  civic run"
    )


def register(app: typer.Typer) -> None:
    """Add ``civic new-plugin`` to ``app``."""
    app.command("new-plugin")(new_plugin)
