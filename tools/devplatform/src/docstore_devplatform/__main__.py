"""``python -m docstore_devplatform up|down|status``."""

import sys

from docstore_devplatform.cli import main

sys.exit(main())
