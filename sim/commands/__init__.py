"""Subcommands beyond ``run``/``sweep``/``validate``/``schema``, one module per family.

Each module has ``register(sub)``, which adds its subparsers with ``set_defaults(handler=...)``; ``sim.cli``
calls it. Handlers return the exit code and raise a ``sim.errors.RapprochementError`` (``UsageError`` for an
option) for a user's mistake; ``sim.cli.main`` reports it.
"""
