"""The project's modules import each other without cycles.

Every import counts, the ones inside functions too: an import moved into a
function to dodge a cycle hides the cycle from Python but not from this test.
"""

import ast

from tests.servers import ROOT

PACKAGES = ("config", "links", "opsconsole")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules():
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }


def _imported(node, module, modules):
    """The project modules one import statement brings in."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")[: -node.level]
            base = ".".join([*package, base] if base else package)
        # `from pkg import mod` imports the module pkg.mod when there is one.
        names = [f"{base}.{alias.name}" for alias in node.names] + [base]
    found = set()
    for name in names:
        # The longest prefix that is a module of ours: `a.b.c` may be the
        # attribute c of the module a.b.
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def import_graph(modules=None):
    modules = modules or _project_modules()
    graph = {}
    for module, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= _imported(node, module, modules)
        graph[module] = edges
    return graph


def find_cycle(graph):
    """One cycle as [a, b, …, a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_project_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    # The shape the backups modules had: verify imported backup inside a
    # function, backup imported retention, retention imported verify.
    files = {
        "backup": "from opsconsole import retention\n",
        "retention": "def prune():\n    from opsconsole.verify import check\n",
        "verify": "def check():\n    from opsconsole.backup import x\n",
    }
    modules = {}
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
        modules[f"opsconsole.{name}"] = tmp_path / f"{name}.py"
    modules["opsconsole"] = tmp_path / "__init__.py"
    (tmp_path / "__init__.py").write_text("")
    cycle = find_cycle(import_graph(modules))
    assert cycle is not None
    assert set(cycle) == {
        "opsconsole.backup",
        "opsconsole.retention",
        "opsconsole.verify",
    }
