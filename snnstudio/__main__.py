import sys

from snnstudio.cli import main

sys.exit(main())
