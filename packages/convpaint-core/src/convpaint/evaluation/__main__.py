"""``python -m convpaint.evaluation ...`` = ``convpaint evaluate ...``."""

import sys

from .cli import main

sys.exit(main())
