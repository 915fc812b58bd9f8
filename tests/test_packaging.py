"""What `pip install layerloom` gives a user: one top-level package, `layerloom`, with its gallery inside."""
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"layerloom": "layerloom", "layerloom.engine": "engine", "layerloom.designer": "designer",
           "layerloom.templates": "templates"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_source_package_is_listed_for_the_wheel():
    on_disk = set()
    for name, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((name, *parts)))
    setuptools = _project()["tool"]["setuptools"]
    assert set(setuptools["packages"]) == on_disk
    assert setuptools["package-dir"] == FOLDERS


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, capture_output=True)
    return next(out.glob("layerloom-*.whl"))


def test_the_wheel_installs_only_layerloom_at_the_top_level(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"layerloom", f"{wheel.name.split('-py')[0]}.dist-info"}
    assert "layerloom/templates/GALLERY.json" in names
    assert "layerloom/templates/cnn_digits.json" in names
    assert "layerloom/templates/blocks/transformer.json" in names   # the built-in blocks
    assert "layerloom/engine/data/poetry.txt" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "layerloom = layerloom.engine.cli:run" in entry_points
    assert "design = layerloom.designer.cli:register" in entry_points


def test_nothing_imports_the_folders_by_their_own_names():
    """`engine` and `designer` are folders of the checkout, not modules: code imports layerloom.engine."""
    offenders = []
    for path in [*ROOT.glob("engine/**/*.py"), *ROOT.glob("designer/**/*.py"), *ROOT.glob("tests/**/*.py"),
                 *ROOT.glob("bench/*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import engine", "import designer", "from engine", "from designer")):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {stripped}")
    assert offenders == []
