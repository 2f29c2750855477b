"""Apps depend one way: opsconsole looks at links, links never imports
opsconsole. Read from the source with ast, so an import inside a function
or a migration counts as much as one at the top of a module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = "opsconsole"


def forbidden_imports(source):
    """[(line, module)] of every import of opsconsole in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        # A relative import cannot climb above the links package, so only
        # absolute ones can reach opsconsole.
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        found.extend(
            (node.lineno, name)
            for name in names
            if name == FORBIDDEN or name.startswith(f"{FORBIDDEN}.")
        )
    return found


def _links_sources():
    return sorted((ROOT / "links").rglob("*.py"))


def test_links_never_imports_opsconsole():
    sources = _links_sources()
    # A wrong path would find no files and pass for the wrong reason.
    assert ROOT / "links" / "models.py" in sources
    assert ROOT / "links" / "migrations" / "0001_initial.py" in sources
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sources
        for line, name in forbidden_imports(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        "import opsconsole",
        "import opsconsole.metrics as m",
        "from opsconsole import files",
        "from opsconsole.files import durable_write",
        "def handle():\n    from opsconsole.engines import engine_for\n",
        "class Command:\n    def run(self):\n        import opsconsole.files\n",
    ],
)
def test_every_form_of_opsconsole_import_is_found(source):
    assert forbidden_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "import links.models",
        "from links import metrics",
        "from . import metrics",
        "from links.opsconsole_notes import notes",
        "import opsconsolex",
    ],
)
def test_imports_of_other_modules_are_not_flagged(source):
    assert forbidden_imports(source) == []
