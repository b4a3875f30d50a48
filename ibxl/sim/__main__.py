"""``python -m ibxl.sim``: run the embedded paper gateway."""

import sys

from .cli import main

sys.exit(main())
