"""``python -m lstmkit``: the command line."""

import sys

from .cli.command import command

sys.exit(command())
