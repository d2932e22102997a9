import sys

from paysig.server.cli import main

sys.exit(main())
