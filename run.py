#!/usr/bin/env python3
"""Strike-a-Pose Explorer: ``python run.py --help`` lists the commands."""

import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
