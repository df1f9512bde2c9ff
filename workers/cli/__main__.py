"""``python -m workers.cli``: the ``flowyard`` command."""

import sys

from workers.cli import main

sys.exit(main())
