"""``python -m speechbrain_interp``: the same command line as ``speechbrain-interp``."""

import sys

from speechbrain_interp.cli import main

if __name__ == "__main__":
    sys.exit(main())
