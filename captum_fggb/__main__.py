"""``python -m captum_fggb`` runs the command line (same as the ``captum-fggb`` script)."""

import sys

from .cli import main

sys.exit(main())
