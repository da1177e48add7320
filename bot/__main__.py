"""`python -m bot` runs the taxbot command line."""

import sys

from bot.cli import main

sys.exit(main())
