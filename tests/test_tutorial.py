"""The tutorial, docs/tutorial.md, and its finished code, examples/ouvidoria (issue 11,
item 5): every file the tutorial shows is the example's, every command prints what the
tutorial shows, and the example works: it passes civic's conformance suite and its own
tests, reaches the Ouvidoria with "quero fazer uma denúncia" while the CAC's and the
PROCON's sentences still land where they did, and ``civic plugins check`` finds no
error in it. The tutorial's mistakes are each made, and each is reported with the
plugin's name.

Every fenced block of the tutorial follows a marker saying how it is checked:

- ``<!-- file: PATH -->``: the whole of ``examples/ouvidoria/PATH``;
- ``<!-- run -->`` (the example installed), ``<!-- run: fresh -->`` (nothing more than
  civic), ``<!-- run: generated -->`` (a freshly generated ``ouvidoria`` installed),
  ``<!-- run: MISTAKE -->`` (the example with that mistake, installed): ``$`` commands,
  run in a shell, and what they print;
- ``<!-- mistake: MISTAKE -->``: the line that replaces :data:`MISTAKES` ``[MISTAKE]``;
- ``<!-- toml -->``: a city's ``civic.toml``, used below;
- ``<!-- overlaps -->``: the conformance suite's report of the words the Ouvidoria shares;
- ``<!-- not run: REASON -->``: said why.

"Installed" is without pip (:func:`tests.test_new_plugin.fake_install`); in this process
the example is imported from its folder (:func:`tests.test_new_plugin.load_package`).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civic import departments
from civic.cli import app
from civic.config import ConfigError
from civic.testing import MARIA, DepartmentConformance, Harness, build_manager
from tests.test_new_plugin import ROOT, environment, fake_install, load_package
from tests.test_routing_table import NAMES, STATES, TABLE

EXAMPLE = ROOT / "examples" / "ouvidoria"
TUTORIAL = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")

civic_ouvidoria = load_package(EXAMPLE, "civic_ouvidoria")


def _example_tests() -> Any:
    """The example's own test module (its conformance class needs the entry point; its
    other tests run here, through :func:`test_the_examples_own_tests_pass`)."""
    spec = importlib.util.spec_from_file_location(
        "civic_ouvidoria_tests", EXAMPLE / "tests" / "test_ouvidoria.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE_TESTS = _example_tests()

# -- the tutorial's blocks ---------------------------------------------------------------

BLOCK = re.compile(
    r"<!-- (?P<marker>[^\n]*?) -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.S | re.M
)
BLOCKS = [(m["marker"], m["body"]) for m in BLOCK.finditer(TUTORIAL)]
FILES = {
    marker.removeprefix("file: "): body for marker, body in BLOCKS if marker.startswith("file: ")
}
RUNS = [(marker, body) for marker, body in BLOCKS if marker == "run" or marker.startswith("run: ")]
SHOWN = {
    marker.removeprefix("mistake: "): body
    for marker, body in BLOCKS
    if marker.startswith("mistake: ")
}

#: Each mistake of the tutorial: the file, and the line of it that the tutorial's
#: ``<!-- mistake: ... -->`` block replaces.
MISTAKES = {
    "form": ("civic_ouvidoria/manifestacao.json", '      "maxLength": 4000,'),
    "keyword": (
        "civic_ouvidoria/__init__.py",
        '    "anonimo", "elogio", "elogiar", "sugestao", "sugerir", "manifestacao",',
    ),
    "hook": (
        "civic_ouvidoria/__init__.py",
        '        return Answer(text=texts(f"{SLUG}.deadline", days=deadline(settings)), done=True)',
    ),
}
#: The exit status of each run block that does not exit 0.
EXIT = {"form": 1, "keyword": 1}


def test_every_block_says_how_it_is_checked() -> None:
    fences = re.findall(r"^```", TUTORIAL, re.M)
    assert len(fences) == 2 * len(BLOCKS), "a fenced block without its <!-- marker -->"
    kinds = {"file", "run", "mistake", "toml", "overlaps", "not run"}
    assert [m for m, _ in BLOCKS if m.split(":")[0] not in kinds] == []
    assert len(FILES) == 5 and len(RUNS) == 9 and set(SHOWN) == set(MISTAKES)
    assert {marker.removeprefix("run: ") for marker, _ in RUNS} >= set(MISTAKES)


@pytest.mark.parametrize("path", sorted(FILES))
def test_each_file_shown_is_the_examples(path: str) -> None:
    assert FILES[path] == (EXAMPLE / path).read_text(encoding="utf-8")


def test_every_file_of_the_example_is_shown_or_generated(tmp_path: Path) -> None:
    """The example is the generated package with the tutorial's files: its
    ``pyproject.toml`` is the generated one but for the description, and its README (the
    only other file) is rewritten for the Ouvidoria."""
    files = {
        path.relative_to(EXAMPLE).as_posix()
        for path in EXAMPLE.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not any(part.startswith(".") for part in path.relative_to(EXAMPLE).parts)
    }
    assert files - set(FILES) == {"pyproject.toml", "README.md"}
    result = CliRunner().invoke(
        app, ["new-plugin", "ouvidoria", "--directory", str(tmp_path / "new")]
    )
    assert result.exit_code == 0, result.output
    generated = tomllib.loads((tmp_path / "new" / "pyproject.toml").read_text(encoding="utf-8"))
    example = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    assert "Lei 13.460/2017" in example["project"].pop("description")
    generated["project"].pop("description")
    assert example == generated


# -- the commands --------------------------------------------------------------------------


def commands(body: str) -> list[tuple[str, str]]:
    """Each ``$ command`` of a console block (with its ``\\`` continuations) and the
    output shown after it."""
    found: list[tuple[str, list[str]]] = []
    continued = False
    for line in body.splitlines():
        if line.startswith("$ ") or continued:
            if not continued:
                found.append((line[2:], []))
            else:
                found[-1] = (found[-1][0] + "\n" + line, [])
            continued = line.endswith("\\")
        else:
            found[-1][1].append(line)
    return [(command, "\n".join(shown)) for command, shown in found]


def normalised(text: str) -> str:
    """Output as compared: the protocol's year (the clock's) left out, no trailing space."""
    text = re.sub(r"\b(OUV)-\d{4}-", r"\1-YYYY-", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def with_mistake(name: str, folder: Path) -> Path:
    """A copy of the example in ``folder`` with the mistake ``name`` made."""
    copy = folder / "civic-ouvidoria"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    path, line = MISTAKES[name]
    text = (copy / path).read_text(encoding="utf-8")
    assert text.count(line + "\n") == 1, f"{path} no longer has the line {line!r}"
    (copy / path).write_text(text.replace(line + "\n", SHOWN[name]), encoding="utf-8")
    return copy


def setting(marker: str, tmp: Path) -> dict[str, str]:
    """The environment a run block's commands see (see the module's docstring)."""
    kind = marker.removeprefix("run").removeprefix(": ")
    if kind == "fresh":
        return environment(tmp / "home")
    if kind == "generated":
        result = CliRunner().invoke(
            app, ["new-plugin", "ouvidoria", "--directory", str(tmp / "new")]
        )
        assert result.exit_code == 0, result.output
        package = tmp / "new"
    else:
        package = with_mistake(kind, tmp) if kind else EXAMPLE
    fake_install(package, tmp / "site")
    return environment(tmp / "home", tmp / "site", package)


@pytest.mark.parametrize(
    ("marker", "body"), RUNS, ids=[f"{n}-{m}" for n, (m, _) in enumerate(RUNS)]
)
def test_each_command_prints_what_the_tutorial_shows(
    marker: str, body: str, tmp_path: Path
) -> None:
    env = setting(marker, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    for command, shown in commands(body):
        done = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == EXIT.get(marker.removeprefix("run: "), 0), done.stderr
        assert done.stderr == "", done.stderr
        assert normalised(done.stdout) == normalised(shown)
        if marker.removeprefix("run: ") in MISTAKES:  # the plugin is named
            assert "plugin ouvidoria" in done.stdout


# -- the example works ---------------------------------------------------------------------


class TestOuvidoriaExample(DepartmentConformance):
    department = "ouvidoria"
    plugin = civic_ouvidoria


@pytest.mark.parametrize("name", sorted(n for n in vars(EXAMPLE_TESTS) if n.startswith("test_")))
def test_the_examples_own_tests_pass(name: str) -> None:
    getattr(EXAMPLE_TESTS, name)()


def test_civic_plugins_check_finds_no_error_and_no_warning() -> None:
    manager = build_manager([civic_ouvidoria], installed=True)
    registry = departments.collect(manager)
    assert registry.problems == [] and "ouvidoria" in registry.slugs
    found = departments.routing_problems(list(registry), registry.owners, explain=True)
    assert [str(p) for p in found if p.severity != "note"] == []


#: Sentences of the CAC and the PROCON (from tests/test_routing_table.py, with where they
#: land there) that the Ouvidoria must leave where they were.
KEPT = [
    "segunda via do IPTU",
    "quero reclamar do posto de saude",
    "quero fazer uma denuncia do posto de saude",
    "reclamação do posto de saúde do bairro, ninguém atende",
    "tem um buraco enorme na minha rua",
    "poste apagado",
    "o lixo nao foi recolhido essa semana",
    "quero fazer uma solicitação",
    "qual o horario de funcionamento?",
    "tenho uma duvida",
    "casa do cidadao",
    "o vizinho ta com som alto ate de madrugada todo dia",
    "quero reclamar de uma loja",
    "reclamação contra loja",
    "comprei uma geladeira e veio com defeito",
    "direito de arrependimento",
    "cobrança indevida no meu cartao",
    "direito do consumidor",
    "quero fazer uma reclamação",
    "quero reclamar",
    "procon",
]
EXPECTED = dict(TABLE)
#: Sentences for the Ouvidoria, where they land, and the kind of manifestação the form
#: starts with (``None``: asked).
OUVIDORIA = [
    ("quero fazer uma denúncia", "form", "denuncia"),
    ("quero fazer uma denuncia anonima", "form", "denuncia"),
    ("quero fazer um elogio", "form", "elogio"),
    ("tenho uma sugestão", "form", "sugestao"),
    ("ouvidoria", "department", None),
    ("qual o prazo de resposta da ouvidoria?", "answer", None),
]


@pytest.fixture(scope="module")
def city() -> Iterator[Harness]:
    """civic with every installed department and the Ouvidoria; a citizen per sentence."""
    with Harness(civic_ouvidoria, installed=True) as harness:
        yield harness


@pytest.mark.parametrize("message", KEPT)
def test_the_cac_and_procon_keep_their_sentences(city: Harness, message: str) -> None:
    expected = EXPECTED[message]
    citizen = city.citizen()
    citizen.say(MARIA)
    answer = citizen.say(message)
    target, action = expected.split(":")
    if target == "ask":
        assert citizen.state == STATES["ask"], answer
        offered = [
            name for name in [*NAMES.values(), "Ouvidoria"] if f". {name}\n" in answer + "\n"
        ]
        assert offered == [NAMES[slug] for slug in action.split(",")], answer
        return
    assert (citizen.department, citizen.state) == (target, STATES[action]), answer


@pytest.mark.parametrize(("message", "action", "kind"), OUVIDORIA)
def test_the_ouvidorias_sentences_reach_it(
    city: Harness, message: str, action: str, kind: str | None
) -> None:
    citizen = city.citizen()
    citizen.say(MARIA)
    answer = citizen.say(message)
    assert (citizen.department, citizen.state) == ("ouvidoria", STATES[action]), answer
    if kind is not None:
        form = citizen.form()
        assert form is not None and form.answers.get("tipo") == kind, answer


def test_the_citys_civic_toml_of_the_tutorial() -> None:
    """Anonymous: no name and CPF asked on the way to the Ouvidoria; the Carta de
    Serviços said as the city wrote it. A misspelt setting is refused."""
    (body,) = [body for marker, body in BLOCKS if marker == "toml"]
    config = tomllib.loads(body)
    with Harness(civic_ouvidoria, installed=["procon"], config=config) as h:
        assert "Com qual setor" in h.say("oi")
        h.say("ouvidoria")
        h.expect("Atendimento: Ouvidoria", state="in_department", department="ouvidoria")
        h.say("carta")
        h.expect("Carta de Serviços ao Usuário: https://www.suacidade.gov.br/carta-de-servicos")
    config["departments"]["ouvidoria"]["carta_servicos"] = "https://x"
    with pytest.raises(ConfigError, match=r"departments\.ouvidoria\.carta_servicos: unknown"):
        Harness(civic_ouvidoria, config=config).close()


def test_the_shared_words_shown_are_the_conformance_suites() -> None:
    """The ``KeywordOverlapWarning`` the tutorial shows, computed as the suite does."""
    from civic.testing.conformance import keyword_overlaps

    (body,) = [body for marker, body in BLOCKS if marker == "overlaps"]
    manager = build_manager([civic_ouvidoria], installed=True)
    everyone = list(departments.collect(manager))
    found = [o.describe("ouvidoria") for o in keyword_overlaps("ouvidoria", everyone, manager)]
    header = (
        f"KeywordOverlapWarning: ouvidoria: {len(found)} routing word(s) shared or routed "
        "elsewhere:"
    )
    assert body.splitlines() == [header, *(f"    {line}" for line in found)]


def test_the_readmes_plugin_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``civic`` commands of the README's *Plugins* section (pip and pytest are
    tested by tests/test_new_plugin.py)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Plugins\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    lines = [line.split("  #")[0] for line in block.splitlines() if line.startswith("civic ")]
    assert [line.split()[1] for line in lines] == ["new-plugin", "plugins", "route"]
    monkeypatch.chdir(tmp_path)
    for line in lines:
        result = CliRunner().invoke(app, shlex.split(line)[1:])
        assert result.exit_code == 0, (line, result.output)
    assert (tmp_path / "civic-ouvidoria" / "civic_ouvidoria" / "__init__.py").is_file()
