import sys

from docstore_sync.cli import main

sys.exit(main())
