"""``python -m ibxl``: the ibxl command."""

import sys

from .cli import main

sys.exit(main())
