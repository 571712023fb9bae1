"""Code the tests share (fixtures are in the conftest.py files), imported as ``helpers.<module>``: pytest
puts the project root, ``tests/`` and ``handler/`` on ``sys.path`` (``pythonpath`` in pyproject.toml)."""
