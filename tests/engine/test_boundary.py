"""The engine never imports Qt, pyqtgraph or the designer."""
import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "layerloom.designer")


def _imported_modules(path: Path, root: Path = ENGINE) -> set[str]:
    """Absolute names of every module `path` imports, relative imports resolved as if `root` were layerloom.engine."""
    package = ["layerloom", "engine", *path.relative_to(root).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] if node.level else [])
            module = ".".join(part for part in (base, node.module) if part)
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


def test_engine_sources_import_no_gui_module():
    offenders = {
        str(path.relative_to(ENGINE)): sorted(filter(_forbidden, _imported_modules(path)))
        for path in ENGINE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_boundary_check_sees_relative_and_absolute_imports(tmp_path):
    sample = tmp_path / "engine" / "train" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text("from ... import designer\nfrom layerloom.designer import app\nimport PySide6.QtCore\n")
    found = set(filter(_forbidden, _imported_modules(sample, tmp_path / "engine")))
    assert found == {"layerloom.designer", "layerloom.designer.app", "PySide6.QtCore"}


def test_importing_the_engine_loads_no_gui_module():
    code = (
        "import sys, layerloom, layerloom.engine.cli, layerloom.engine.train.trainer\n"
        f"bad = [m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in {FORBIDDEN!r})]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ENGINE.parent)
