"""`python -m planner.probe --url ...`: the probe without the planner's top-level CLI."""

import sys

from planner.probe.cli import main

sys.exit(main())
