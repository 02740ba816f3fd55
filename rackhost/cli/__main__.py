"""``python -m rackhost.cli``: the ``rackhost`` command."""

import sys

from rackhost.cli import main

sys.exit(main())
