"""The guide's resources (``stack.py``: role, function, layer, buckets, trigger) and the examples' set-ups
(``example_setups/``: queue, stream, API, schedule) that ``run_local.py --example`` adds."""
