"""examples/eventbridge-patterns: what `--example eventbridge-patterns` sets up, driven as its README says:
only the big order put on the custom bus reaches the function, reshaped by the input transformer."""

from __future__ import annotations

import json
import time

import pytest

from helpers.aws_cli import aws_cli
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually
from sandbox.guide.example_setups import set_up
from sandbox.guide.example_setups.eventbridge_patterns import BUS, FUNCTION, RULE

pytestmark = pytest.mark.slow


def test_only_the_big_order_on_the_custom_bus_reaches_the_function_reshaped():
    sb = start_sandbox()
    try:
        lines = set_up(sb, ["eventbridge-patterns"])
        assert any(f"bus {BUS}: rule {RULE}" in line for line in lines)
        cli = aws_cli(sb)
        for bus, order, total in ((BUS, "A1", 250), (BUS, "A2", 5), (None, "A3", 900)):
            entry = {
                "Source": "shop.orders",
                "DetailType": "Order Placed",
                "Detail": json.dumps({"orderId": order, "total": total, "country": "FR"}),
                **({"EventBusName": bus} if bus else {}),
            }
            sent = cli("events", "put-events", "--entries", json.dumps([entry]))
            assert sent.returncode == 0, sent.stderr
        shipped = eventually(
            lambda: [r.result for r in sb.records.all() if r.function_name == FUNCTION and r.final],
            what="the big order's shipment",
        )
        time.sleep(1)
        assert [r.result for r in sb.records.all() if r.function_name == FUNCTION] == shipped
        assert shipped == [{"shipped": "A1", "total": 250}]
        (record,) = [r for r in sb.records.all() if r.function_name == FUNCTION]
        assert record.event == {"order": "A1", "total": 250, "country": "FR", "rule": RULE}
    finally:
        sb.stop()
