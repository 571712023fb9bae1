"""Nothing lost across restarts: a state directory (``run_local.py --state-dir DIR``).

- ``store.py``: the SQLite database (crash-safe commits, format version, one sandbox per directory);
- ``requests.py``: which AWS requests change state, and which S3 objects they touch;
- ``recorder.py``: the endpoint middleware that writes each change before it is acknowledged;
- ``moto_backends.py``: moto's services pickled and put back (S3 objects one by one);
- ``persistence.py``: the sandbox's side (functions, history, positions) and the order of a restore.
"""

from sandbox.state.persistence import Persistence
from sandbox.state.store import StateError, reset

__all__ = ["Persistence", "StateError", "reset"]
