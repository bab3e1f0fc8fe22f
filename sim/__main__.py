"""``python -m sim`` runs the ``rapprochement`` command."""

import sys

from sim.cli import main

sys.exit(main())
