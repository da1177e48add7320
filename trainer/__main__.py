"""`python -m trainer train --config FILE [dotted.key=value ...]`, the same as `taxbot train`."""

import sys

from trainer.cli import main

sys.exit(main(sys.argv[1:]))
