#!/usr/bin/env python3
"""Strike-a-Pose Explorer: ``python run.py --help`` lists the commands (installed: ``strike-a-pose``)."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
