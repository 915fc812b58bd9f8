"""The memory a model needs, checked against what the machine has before anything is allocated."""
from __future__ import annotations

import os

from .errors import DocumentError

BYTES_PER_PARAMETER = 4  # float32


def available_bytes() -> int | None:
    """Memory available to a new allocation without swapping (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:  # a kernel file: always regular, never blocks
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(parameters: int, copies: int, what: str) -> None:
    """Raise DocumentError when `copies` float32 copies of `parameters` weights need more than is available."""
    need, have = parameters * BYTES_PER_PARAMETER * copies, available_bytes()
    if have is not None and need > have:
        raise DocumentError(f"{what} for the model's {parameters:,} parameters need {_gib(need)}, and this machine "
                            f"has {_gib(have)} available: make the model smaller")


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"
