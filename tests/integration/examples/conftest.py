"""The examples' fixture: `run_local.py --example NAME` running as a user starts it."""

from __future__ import annotations

import pytest

from helpers.examples import started_run_local


@pytest.fixture
def running_example(request):
    name = request.param
    with started_run_local("--example", name) as (env, banner):
        yield name, env, banner
