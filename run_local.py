#!/usr/bin/env python3
"""Start the local Lambda sandbox, or one of its tools: `python run_local.py --help`."""
import sys

from sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
