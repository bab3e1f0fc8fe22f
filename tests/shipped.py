"""The scenarios shipped with the project, by name: the ones the tests and the golden files cover.

A fixed list, not the contents of ``scenarios/``: a user's own file saved there (as the README's examples
invite) is the user's, and never changes what the suite checks. Adding a shipped scenario means adding its name
here and its golden file (``python -m scripts.regenerate_golden NAME``).
"""

from __future__ import annotations

SHIPPED: tuple[str, ...] = (
    "baseline",
    "classroom",
    "historical_2013_2025",
    "historical_autonomous",
    "institutionalized",
    "leadership_change",
    "nationalist_surge",
    "nk_escalation",
    "robust_seoul",
    "trade_relapse",
    "us_disengagement",
)
