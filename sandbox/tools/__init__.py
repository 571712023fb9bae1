"""Tools over a whole sandbox: benchmarks (``bench/``), power tuning, and deploying the guide's function
to a real AWS account (``deploy/``)."""
