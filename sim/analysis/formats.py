"""Numbers as the analyses print and report them, one format everywhere.

* points (index points, percentage points, values of an outcome in percent of citizens) with one decimal;
  outcomes on a 0-1 scale with two (:func:`decimals_for`), where one would hide most of their differences;
* percentages with one decimal and a spaced sign: ``12.5 %``;
* signed differences with an explicit sign and a true minus: ``+2.0 pp``, ``\u22127.4``;
* an interval after its value, in the value's format, the unit written once: ``+2.0 pp [\u22127.4, +12.0]``.

A number that is not finite (an interval that could not be estimated) reads ``n/a``.
"""

from __future__ import annotations

import math

__all__ = ["MINUS", "NA", "decimals_for", "difference_unit", "estimate", "interval", "number", "percent", "points"]

#: The minus sign of negative numbers (U+2212: as wide as the plus, and not a hyphen).
MINUS = "\u2212"
#: What a number that could not be computed reads.
NA = "n/a"


def number(value: float, *, decimals: int = 1, signed: bool = False) -> str:
    """``value`` rounded to ``decimals``, negatives with a true minus and, when ``signed``, positives with a plus.

    A value that rounds to zero is written without a sign (``0.0``, never ``-0.0`` or ``+0.0``): a difference
    too small to show has no direction.
    """
    if not math.isfinite(value):
        return NA
    text = f"{abs(value):.{decimals}f}"
    if float(text) == 0.0:
        return text
    if value < 0:
        return MINUS + text
    return f"+{text}" if signed else text


def points(value: float, unit: str = "", *, decimals: int = 1, signed: bool = False) -> str:
    """A value in points (one decimal by default), followed by its ``unit`` when given: ``+2.0 pp``."""
    text = number(value, decimals=decimals, signed=signed)
    return f"{text} {unit}" if unit and text != NA else text


def percent(share: float, *, signed: bool = False) -> str:
    """A share of 0-1 as a percentage with one decimal: ``0.125`` reads ``12.5 %``."""
    return points(100.0 * share, "%", signed=signed)


def interval(low: float, high: float, *, decimals: int = 1, signed: bool = False) -> str:
    """``[low, high]`` in the format of the value they bound (no unit: it follows the value)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"[{NA}]"
    return f"[{number(low, decimals=decimals, signed=signed)}, {number(high, decimals=decimals, signed=signed)}]"


def estimate(
    value: float, low: float, high: float, unit: str = "", *, decimals: int = 1, signed: bool = False
) -> str:
    """A value, its unit and its interval in one format: ``+2.0 pp [\u22127.4, +12.0]``, ``52.3 [41.0, 66.2]``."""
    bounds = interval(low, high, decimals=decimals, signed=signed)
    return f"{points(value, unit, decimals=decimals, signed=signed)} {bounds}"


def decimals_for(unit: str) -> int:
    """The decimals of a value in ``unit`` (an outcome's unit, ``sim.outcomes``): two on a 0-1 scale, else one."""
    return 2 if unit.endswith("0-1") else 1


def difference_unit(unit: str) -> tuple[float, str]:
    """How a difference of a metric in ``unit`` is written: the factor it is scaled by and its short unit.

    Probabilities (``share of runs``) become percentage points, as do differences of percentages of citizens;
    differences of the 0-100 relations index are index points; 0-1 scales stay as they are, without a unit.
    """
    if unit == "share of runs":
        return 100.0, "pp"
    if unit.startswith("%"):
        return 1.0, "pp"
    if unit.startswith("index"):
        return 1.0, "points"
    return 1.0, ""
