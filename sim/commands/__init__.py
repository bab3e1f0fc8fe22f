"""Subcommands beyond ``run``/``sweep``/``validate``/``schema``, one module per family.

Each module has ``register(sub)``, which adds its subparsers with ``set_defaults(handler=...)``; ``sim.cli``
calls it. Handlers return the exit code and raise ``sim.cli.UsageError`` for a user's mistake.
"""
