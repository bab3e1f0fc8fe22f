"""Browser front ends of the model: the class exercise (``game``, ``server``, ``debrief``) and the dashboard.

This package imports ``sim``; the model never imports it. Only the modules that serve pages need the ``ui``
extra (Starlette, uvicorn, Solara); ``game`` and ``debrief`` need only the core dependencies.
"""

from pathlib import Path

#: Where ``rapprochement dashboard`` passes the scenario file to the Solara app (it runs in its own process).
DASHBOARD_SCENARIO_ENV = "RAPPROCHEMENT_DASHBOARD_SCENARIO"
#: The dashboard's scenario when none is named.
DEFAULT_DASHBOARD_SCENARIO = Path("scenarios/baseline.yaml")
