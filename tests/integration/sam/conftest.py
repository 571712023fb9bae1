"""The SAM tests' sandbox: a real one with no function of its own, for templates to deploy into. A file
whose tests need another (the guide's function, a template at start-up) defines its own ``sb``."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def sb():
    from sandbox.config import SandboxConfig
    from sandbox.core import Sandbox

    sandbox = Sandbox(SandboxConfig(port=0, web_port=None)).start()
    yield sandbox
    sandbox.stop()
