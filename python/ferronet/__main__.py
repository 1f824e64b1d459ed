"""``python -m ferronet``: see ``ferronet.cli``."""

import sys

from .cli import main

sys.exit(main(prog="python -m ferronet"))
