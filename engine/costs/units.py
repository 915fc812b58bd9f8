"""How costs read: bytes in binary units, multiply-accumulates in decimal ones."""
from __future__ import annotations


def format_bytes(count: int) -> str:
    """'512 B', '3.4 KiB', '1.9 GiB'."""
    unit, scale = binary_unit(count)
    return f"{short_number(count / scale)} {unit}"


def format_macs(count: int) -> str:
    """'8,448', '316 K', '1.81 G': multiply-accumulates as people quote them."""
    for scale, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if count >= scale:
            return f"{short_number(count / scale)} {suffix}"
    return f"{count:,}"


def binary_unit(count: int) -> tuple[str, int]:
    """('MiB', 2**20) for a count of a few mebibytes: the unit a byte count reads best in."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return unit, scale
    return "B", 1


def short_number(value: float) -> str:
    """Three significant digits ('1.65', '0.0816', '316'); '<0.01' for what would round to nothing."""
    if 0 < value < 0.01:
        return "<0.01"
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


