"""docs/benchmarks.md: each benchmark owns one '## ' section and rewrites only that one."""
from __future__ import annotations

import re
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(section: str, path: Path = REPORT) -> None:
    """Replace the section headed by `section`'s first line (up to the next '## '), or append it."""
    heading = section.splitlines()[0].rstrip()
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    body = section.rstrip("\n") + "\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: body, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
