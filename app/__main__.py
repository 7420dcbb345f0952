"""``python -m app``: the same commands as ``run.py`` and ``strike-a-pose``."""

import sys

from app.main import main

sys.exit(main())
