"""``python -m rackhost``: the same as the ``rackhost`` command."""

import sys

from rackhost.cli import main

if __name__ == "__main__":
    sys.exit(main())
