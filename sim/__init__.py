"""rapprochement: an agent-based scenario simulator of South Korea-Japan rapprochement.

The one-call interface for other tools is :func:`sim.simulate`; the command line is ``rapprochement``.
``simulate`` is imported on first use, so ``import sim.opinion`` alone stays light.
"""

from typing import Any

__all__ = ["simulate"]


def __getattr__(name: str) -> Any:
    if name == "simulate":
        from sim.api import simulate

        return simulate
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
