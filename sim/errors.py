"""The root of every error the project reports to its user.

A ``RapprochementError`` is a mistake the user can fix or a situation the user must decide on (a bad scenario, a
folder that holds other results, a missing optional extra). Its message is complete - it names the file and the
field where there is one - so the command line prints it on one line and exits with ``exit_code``, never a
traceback. Anything else that escapes is a bug in the project and keeps its traceback.
"""

from __future__ import annotations

#: Exit code of a user's mistake (bad input, refused overwrite, missing extra).
EXIT_USAGE = 2


class RapprochementError(Exception):
    """A failure the project reports in one message; ``exit_code`` is what the command line returns."""

    exit_code: int = EXIT_USAGE


class UsageError(RapprochementError):
    """One or more user mistakes on the command line, each already a complete message naming file and field."""


class ExecutorError(RapprochementError):
    """An executor that cannot be built: an optional extra (Dask) is missing or its scheduler cannot be reached."""
