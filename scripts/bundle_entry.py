"""Entry script for the PyInstaller bundle (same as the `triage-app` console script)."""

import sys

from triage_app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
