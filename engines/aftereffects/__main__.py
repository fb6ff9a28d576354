"""`python -m engines.aftereffects` is the `aefarm` command, for hosts where console scripts are not on PATH."""
import sys

from engines.aftereffects.cli import main

sys.exit(main())
