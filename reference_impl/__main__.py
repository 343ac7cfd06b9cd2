"""`python -m reference_impl`: the same as `spt-conformance serve`."""

from __future__ import annotations

import sys

from reference_impl.serve import main

if __name__ == "__main__":
    sys.exit(main())
