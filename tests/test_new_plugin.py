"""``civic new-plugin`` (issue 11, item 4): the package it writes installs, passes its
own tests and ``civic plugins check``, and civic's menu shows it.

Generating is fast, so each test makes its own package in a temporary folder. To keep
the suite fast, "installing" one is done without pip where that is enough:
:func:`fake_install` writes the ``*.dist-info`` folder that ``pip install -e`` would
leave (the ``civic`` entry point, read from the package's own ``pyproject.toml``), and a
subprocess with that folder and the package on ``PYTHONPATH`` sees the plugin exactly as
if it were installed. In this process, :func:`load_package` imports a package from its
folder, for a manager built for the test. One test (marked ``pip``) does the real
``pip install -e`` into a throwaway virtual environment.

The slug here is ``achados-perdidos`` (a hyphen, so the package is
``civic_achados_perdidos``): ``tests/test_tutorial.py`` has the ``ouvidoria``.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from types import ModuleType

import pytest
from typer.testing import CliRunner

from civic import Department, Topic, hookimpl
from civic.cli import app
from civic.cli_new_plugin import NAME_LIMIT, render
from civic.plugins import load_plugins
from civic.testing import MARIA, Harness, build_manager

ROOT = Path(__file__).resolve().parent.parent
SLUG, NAME, PACKAGE = "achados-perdidos", "Achados e Perdidos", "civic_achados_perdidos"
#: What the generator writes, relative to the package's folder.
FILES = {
    "pyproject.toml",
    "README.md",
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/solicitacao.json",
    f"{PACKAGE}/settings.schema.json",
    f"{PACKAGE}/locales/pt-BR/{SLUG}.json",
    "tests/test_achados_perdidos.py",
}
#: The longest slug and name the generator takes.
LONGEST_SLUG, LONGEST_NAME = "a" * 16 + "-b_" + "c" * 13, "Secretaria Municipal de Águas d'Oeste xy"
#: ruff, next to this interpreter or on the PATH.
RUFF = (
    str(Path(sys.executable).parent / "ruff")
    if (Path(sys.executable).parent / "ruff").exists()
    else shutil.which("ruff")
)
runner = CliRunner()


# -- helpers (tests/test_tutorial.py uses them too) -----------------------------------


def fake_install(root: Path, site: Path) -> None:
    """What ``pip install -e root`` gives civic, without pip: in ``site``, the package's
    ``*.dist-info`` folder with its ``civic`` entry points, read from its
    ``pyproject.toml``. Put ``site`` and ``root`` on ``PYTHONPATH`` (:func:`environment`)."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    points = [f"{name} = {value}" for name, value in project["entry-points"]["civic"].items()]
    (info / "entry_points.txt").write_text("[civic]\n" + "\n".join(points) + "\n", "utf-8")


def environment(home: Path, *paths: Path) -> dict[str, str]:
    """A subprocess's environment: ``paths`` on ``PYTHONPATH``, this interpreter's
    scripts (``civic``) first on ``PATH``, a civic data folder of its own, and none of the
    variables of this process that would change what it loads (``CIVIC_*``,
    ``PYTEST_*``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CIVIC_", "PYTEST_")) and key != "PYTHONPATH"
    }
    env["PYTHONPATH"] = os.pathsep.join(str(path) for path in paths)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CIVIC_HOME"] = str(home)
    return env


def run(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` and capture what it prints."""
    return subprocess.run(
        args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300
    )


def load_package(root: Path, package: str) -> ModuleType:
    """Import ``package`` from the folder ``root`` (once per process), without pip and
    without changing ``sys.path``; its package data is found through the module."""
    if package in sys.modules:
        return sys.modules[package]
    folder = root / package
    spec = importlib.util.spec_from_file_location(
        package, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[package]
        raise
    return module


def generate(tmp: Path, *args: str) -> Path:
    """``civic new-plugin SLUG --name NAME --directory tmp/civic-SLUG ARGS``."""
    target = tmp / f"civic-{SLUG}"
    result = runner.invoke(
        app, ["new-plugin", SLUG, "--name", NAME, "--directory", str(target), *args]
    )
    assert result.exit_code == 0, result.output
    return target


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package generated once for the module's tests (they only read it)."""
    return generate(tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="module")
def installed(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a subprocess that sees the generated package installed."""
    site = tmp_path_factory.mktemp("site")
    fake_install(generated, site)
    return environment(tmp_path_factory.mktemp("home"), site, generated)


# -- what it writes ---------------------------------------------------------------------


def test_it_writes_a_complete_department_package(generated: Path) -> None:
    found = {p.relative_to(generated).as_posix() for p in generated.rglob("*") if p.is_file()}
    assert found == FILES
    for name in FILES:
        assert "{{" not in (generated / name).read_text(encoding="utf-8"), name
    pyproject = tomllib.loads((generated / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["name"] == f"civic-{SLUG}"
    assert project["dependencies"] == ["civic>=0.1"]
    assert project["entry-points"]["civic"] == {SLUG: PACKAGE}
    assert {"pytest", "hypothesis"} <= {
        requirement.split(">")[0] for requirement in project["optional-dependencies"]["test"]
    }
    data = pyproject["tool"]["setuptools"]["package-data"][PACKAGE]
    assert {"*.json", "locales/*/*.json"} <= set(data)
    test = (generated / "tests/test_achados_perdidos.py").read_text(encoding="utf-8")
    assert 'class TestAchadosPerdidos(DepartmentConformance):\n    department = "' in test


def test_its_form_settings_and_texts_are_valid(generated: Path) -> None:
    from jsonschema import Draft202012Validator

    from civic.forms import form_errors

    form = json.loads((generated / PACKAGE / "solicitacao.json").read_text(encoding="utf-8"))
    assert form_errors(form) == []
    assert all("x-civic-label" in field for field in form["properties"].values())
    settings = (generated / PACKAGE / "settings.schema.json").read_text(encoding="utf-8")
    Draft202012Validator.check_schema(json.loads(settings))
    texts = json.loads(
        (generated / PACKAGE / "locales" / "pt-BR" / f"{SLUG}.json").read_text(encoding="utf-8")
    )
    assert texts and all(key.startswith(f"{SLUG}.") for key in texts)


def test_the_department_registers_cleanly_among_the_installed_ones(generated: Path) -> None:
    """Loaded from its folder (no pip): civic keeps it, and its words collide with
    nobody's (no warning, no note about it)."""
    from civic import departments

    plugin = load_package(generated, PACKAGE)
    manager = build_manager([plugin], installed=True)
    registry = departments.collect(manager)
    assert registry.problems == []
    assert SLUG in registry.slugs
    shared = departments.routing_problems(list(registry), registry.owners, explain=True)
    assert [p for p in shared if SLUG in (p.department, *p.reason.split("'"))] == []
    assert {"register_departments", "register_texts", "department_message"} <= {
        caller.name for caller in manager.get_hookcallers(plugin) or []
    }


def test_its_menu_line_and_its_information_topic(generated: Path) -> None:
    plugin = load_package(generated, PACKAGE)
    with Harness(plugin, installed=True) as h:
        h.say(MARIA)
        h.expect(f"4. {NAME} — Solicitações e informações", state="choosing_department")
        h.say("4")
        h.expect(f"Atendimento: {NAME}. Como podemos ajudar?", department=SLUG)
        h.say("2")  # the information topic: the city set nothing, so nothing is said
        h.expect("Essa informação ainda não foi cadastrada aqui.")


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed (pip install -e '.[test]')")
@pytest.mark.parametrize(
    ("slug", "name"),
    [
        (SLUG, NAME),
        (LONGEST_SLUG, LONGEST_NAME),
    ],
    ids=["hyphen", "longest"],
)
def test_the_generated_code_is_ruff_clean(tmp_path: Path, slug: str, name: str) -> None:
    """Under the generated package's own ruff settings, with the longest slug and name
    too (32 and 40 characters)."""
    assert (len(LONGEST_SLUG), len(LONGEST_NAME)) == (32, NAME_LIMIT)
    for relative, content in render(slug, name).items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert RUFF is not None
    for command in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run(
            [RUFF, *command], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_templates_are_package_data() -> None:
    """Every template is shipped by a non-editable install: it matches one of the
    ``package-data`` globs of ``civic`` (``*`` within one folder, as setuptools reads)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["civic"]
    templates = [
        PurePosixPath(path.relative_to(ROOT / "core").as_posix())
        for path in (ROOT / "core" / "plugin_template").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert len(templates) == len(FILES)

    def shipped(path: PurePosixPath) -> bool:
        return any(
            len(PurePosixPath(glob).parts) == len(path.parts)
            and all(map(fnmatch.fnmatchcase, path.parts, PurePosixPath(glob).parts))
            for glob in globs
        )

    assert [str(path) for path in templates if not shipped(path)] == []


# -- installed: its own tests, civic plugins check, civic run ---------------------------


def test_the_generated_package_passes_its_own_tests(
    generated: Path, installed: dict[str, str]
) -> None:
    """Its conformance class (one line) and its conversation tests, as its author runs
    them: ``pytest`` in its folder."""
    done = run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        installed,
        generated,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout and "warning" not in done.stdout, done.stdout


def test_civic_plugins_check_passes_with_it(generated: Path, installed: dict[str, str]) -> None:
    done = run(
        [sys.executable, "-m", "civic", "plugins", "check", "--strict"], installed, generated
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 department(s) checked: 0 error(s), 0 warning(s)" in done.stdout
    assert SLUG not in done.stdout.replace("4 department(s)", "")


def test_civic_run_shows_it_in_the_menu(generated: Path, installed: dict[str, str]) -> None:
    done = run(["civic", "run"], installed, generated, stdin=f"{MARIA}\nachados e perdidos\n")
    assert done.returncode == 0, done.stderr
    assert f"4. {NAME} — Solicitações e informações" in done.stdout
    assert f"Atendimento: {NAME}. Como podemos ajudar?" in done.stdout


# -- what it refuses --------------------------------------------------------------------


class Taken:
    """An installed plugin whose department numbers its protocols ``AP-...``."""

    __name__ = "taken"

    @hookimpl
    def register_departments(self, register: Callable[[Department], None]) -> None:
        register(
            Department(
                slug="arquivo",
                name="Arquivo Público",
                protocol_prefix="AP",
                topics=(Topic("Falar com o arquivo", handover=True),),
            )
        )


@pytest.fixture
def taken() -> Iterator[None]:
    manager = load_plugins()
    plugin = Taken()
    manager.register(plugin, name="taken")
    try:
        yield
    finally:
        manager.unregister(plugin)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["Ouvidoria"], "'Ouvidoria' is not a valid slug: a lower-case letter"),
        (["1ouvidoria"], "'1ouvidoria' is not a valid slug"),
        (["ouvi doria"], "'ouvi doria' is not a valid slug"),
        (["a" * 33], "is not a valid slug"),
        (["ouvidoria/../x"], "is not a valid slug"),
        (["routing"], "'routing' is the name of one of civic's built-in plugins"),
        (["procon"], "an installed plugin is already named 'procon'"),
        (
            ["consumo", "--name", "Procon"],
            "the name 'Procon' is already the name or slug of department 'procon' (plugin procon)",
        ),
        (["ouvidoria", "--name", " "], "the name is empty"),
        (["ouvidoria", "--name", "x" * 41], "at most 40"),
        (["ouvidoria", "--name", 'Ouvidoria "Geral"'], "may not hold quotes"),
        (["ouvidoria", "--name", "Ouvidoria {city}"], "braces"),
        (["ouvidoria", "--name", "Ouvi\u200bdoria"], "invisible"),
        (["ouvidoria", "--name", "Ouvidoria\nGeral"], "control"),
        (["ouvidoria", "--name", "Ouvidoria\u2028Geral"], "plain one"),
    ],
)
def test_it_refuses_a_bad_slug_or_name(tmp_path: Path, args: list[str], why: str) -> None:
    target = tmp_path / "out"
    result = runner.invoke(app, ["new-plugin", *args, "--directory", str(target)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and why in result.stderr
    assert "Traceback" not in result.output
    assert not target.exists()


def test_it_refuses_the_slug_of_an_installed_department(tmp_path: Path, taken: None) -> None:
    """Whichever plugin registers it, and whatever the plugin is called."""
    target = tmp_path / "out"
    result = runner.invoke(app, ["new-plugin", "arquivo", "--directory", str(target)])
    assert result.exit_code == 2
    assert "'arquivo' is the slug of an installed department (plugin taken)" in result.stderr
    result = runner.invoke(app, ["new-plugin", "ap", "--directory", str(target)])
    assert result.exit_code == 2
    assert "department 'arquivo' (plugin taken) already numbers its protocols AP-" in (
        result.stderr
    )
    assert not target.exists()


def test_it_refuses_a_non_empty_directory_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / f"civic-{SLUG}"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    result = runner.invoke(app, ["new-plugin", SLUG, "--directory", str(target)])
    assert result.exit_code == 2
    assert "exists and is not empty" in result.stderr and "--force" in result.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]

    generate(tmp_path, "--force")
    readme = target / "README.md"
    readme.write_text("changed", encoding="utf-8")
    generate(tmp_path, "--force")  # the generated files are written again...
    assert readme.read_text(encoding="utf-8").startswith(f"# civic-{SLUG}")
    assert (target / "notes.txt").read_text(encoding="utf-8") == "mine"  # ...others stay


def test_it_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["new-plugin", SLUG, "--directory", str(target), "--force"])
    assert result.exit_code == 2 and "is not a directory" in result.stderr


def test_by_default_it_writes_civic_slug_here_named_after_the_slug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["new-plugin", SLUG])
    assert result.exit_code == 0, result.output
    assert f"Created ./civic-{SLUG}: department '{SLUG}' (Achados perdidos)" in result.stdout
    assert f'pip install -e "./civic-{SLUG}[test]"' in result.stdout
    init = (tmp_path / f"civic-{SLUG}" / PACKAGE / "__init__.py").read_text(encoding="utf-8")
    assert 'name="Achados perdidos",' in init


# -- the real thing: pip install -e -----------------------------------------------------


@pytest.fixture(scope="session")
def throwaway_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment that sees this one's packages (civic and its
    dependencies, pip and setuptools) without copying them: created without pip, with
    system site packages, and a ``.pth`` file adding this environment's site folders."""
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", folder],
        check=True,
        capture_output=True,
    )
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                  os.environ.copy(), folder).stdout.strip()  # fmt: skip
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    lines = [f"import site; site.addsitedir({path!r})" for path in ours]
    (Path(purelib) / "_civic_test_parent.pth").write_text("\n".join(lines) + "\n", "utf-8")
    return python


@pytest.mark.pip
def test_pip_install_e_registers_the_entry_point(
    generated: Path, throwaway_python: Path, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    del env["PYTHONPATH"]
    done = run(
        [str(throwaway_python), "-m", "pip", "install", "-q", "--no-deps",
         "--no-build-isolation", "--no-index", "-e", str(generated)],
        env,
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    done = run([str(throwaway_python), "-m", "civic", "plugins", "--json"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    plugins = {info["name"]: info for info in json.loads(done.stdout)}
    assert plugins[SLUG]["version"] == "0.1.0"
    assert "department_message" in plugins[SLUG]["hooks"]
    done = run([str(throwaway_python), "-m", "civic", "run"], env, tmp_path, stdin=MARIA + "\n")
    assert done.returncode == 0, done.stderr
    assert f"4. {NAME} — Solicitações e informações" in done.stdout
