"""Subcommands of the analysis family (see sim/commands/__init__.py)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this family's subcommands to the ``rapprochement`` parser."""
