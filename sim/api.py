"""A plain-function interface for other tools (SALib, EMA Workbench, notebooks, optimisers).

``simulate`` runs one replication of a scenario with some parameters fixed and returns its final outcomes as
plain floats, so any tool that samples parameters and collects numbers can drive the model without knowing
about Mesa, seeds or results folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.outcomes import OUTCOMES, OutcomeClass
from sim.runner import simulate_run
from sim.scenario import Scenario, load_scenario


def simulate(scenario: Scenario | str | Path, *, seed: int, **overrides: Any) -> dict[str, float]:
    """Final outcomes of one run of ``scenario`` (a loaded scenario or a file path).

    ``overrides`` fix parameters by their dotted path written with double underscores, e.g.
    ``drivers__security__nk_provocation_rate=3``. Parameters listed under ``uncertainties`` and not fixed
    are drawn from ``seed``'s parameter stream, exactly as replication 0 of a batch with root seed ``seed``;
    pass every uncertain parameter you vary to keep the caller in control of sampling.

    Returns every outcome's final value by name, plus ``window_relations_index`` (the last-window mean the
    outcome class is judged on) and one 0/1 indicator per outcome class (``is_relapse`` ...), so the result
    can be averaged over seeds into class probabilities.

    Raises ``sim.loading.ScenarioPathError`` (a ``ValueError``) naming the dotted path of an override that is
    not a field of the scenario, and ``pydantic.ValidationError`` for a value its field refuses.
    """
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    fixed = {key.replace("__", "."): value for key, value in overrides.items()}
    if fixed:
        remaining = {k: v for k, v in loaded.uncertainties.items() if k not in fixed}
        loaded = loaded.with_values(fixed).model_copy(update={"uncertainties": remaining})
    summary = simulate_run(loaded, 0, seed).summary
    result = {name: float(summary[f"final_{name}"]) for name in OUTCOMES}
    result["window_relations_index"] = float(summary["window_relations_index"])
    for outcome in OutcomeClass:
        result[f"is_{outcome.value}"] = float(summary["outcome_class"] == outcome.value)
    return result
