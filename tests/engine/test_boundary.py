"""Import rules, checked on the sources (import-linter cannot map the engine/ and designer/ folders to
layerloom.engine and layerloom.designer): the engine never imports Qt, pyqtgraph or the designer; the document
does not depend on training; no two modules import each other, directly or through others."""
import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"layerloom.engine": REPO / "engine", "layerloom.designer": REPO / "designer"}
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "layerloom.designer")


def _modules(packages: dict[str, Path] = PACKAGES) -> dict[str, Path]:
    """Module name -> source file, for every module of the packages."""
    found = {}
    for package, folder in packages.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            found[".".join([package, *(parts[:-1] if parts[-1] == "__init__" else parts)])] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[str, str | None]]:
    """(module, imported name or None) for every import in the module, functions too, relative ones resolved;
    imports under `if TYPE_CHECKING:` are left out, since they never run."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = {id(n) for block in ast.walk(tree)
               if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found += [(module, alias.name) for alias in node.names]
    return found


def _names(imports: list[tuple[str, str | None]]) -> set[str]:
    """Every name an import may mean: for `from a import b`, both `a` and `a.b`."""
    return {module for module, _ in imports} | {f"{module}.{name}" for module, name in imports if name}


def import_graph(packages: dict[str, Path] = PACKAGES) -> nx.DiGraph:
    """Our modules, with an edge from each module to every one of our modules it imports (for `from a import b`,
    `a.b` when it is a module, else `a`)."""
    modules = _modules(packages)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for module, imported in _imports(name, path):
            target = f"{module}.{imported}" if f"{module}.{imported}" in modules else module
            if target in modules and target != name:
                graph.add_edge(name, target)
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


def test_engine_sources_import_no_gui_module():
    offenders = {name: sorted(filter(_forbidden, _names(_imports(name, path))))
                 for name, path in _modules({"layerloom.engine": PACKAGES["layerloom.engine"]}).items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_circular_imports():
    assert cycles(import_graph()) == []


def test_the_document_does_not_depend_on_training():
    reached = nx.descendants(import_graph(), "layerloom.engine.document")
    assert sorted(m for m in reached if m.startswith("layerloom.engine.train")) == []


def test_the_import_checks_see_relative_absolute_lazy_and_circular_imports(tmp_path):
    engine = tmp_path / "engine"
    (engine / "train").mkdir(parents=True)
    (engine / "train" / "sample.py").write_text(
        "from ... import designer\nfrom layerloom.designer import app\nimport PySide6.QtCore\n")
    (engine / "a.py").write_text("from .train import b\n")
    (engine / "train" / "b.py").write_text("def f():\n    from ..a import x\n")
    (engine / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    packages = {"layerloom.engine": engine}
    found = set(filter(_forbidden, _names(_imports("layerloom.engine.train.sample", engine / "train" / "sample.py"))))
    assert found == {"layerloom.designer", "layerloom.designer.app", "PySide6.QtCore"}
    graph = import_graph(packages)
    assert cycles(graph) == [["layerloom.engine.a", "layerloom.engine.train.b"]]
    assert "layerloom.engine.c" in graph and graph.out_degree("layerloom.engine.c") == 0


def test_importing_the_engine_loads_no_gui_module():
    code = (
        "import sys, layerloom, layerloom.engine.cli, layerloom.engine.train.trainer\n"
        f"bad = [m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in {FORBIDDEN!r})]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
