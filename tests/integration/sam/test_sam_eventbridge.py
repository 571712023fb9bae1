"""EventBridge in templates: a SAM function's ``EventBridgeRule`` event (a rule with an event pattern on a
custom bus, an input transformer, a retry policy and a dead-letter queue), deployed into a running
sandbox and driven by putting events on the bus."""

from __future__ import annotations

import json
import textwrap
import time

from helpers.waiting import eventually

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Events::EventBus
    Properties:
      Name: orders-bus
  Failed:
    Type: AWS::SQS::Queue
  Notify:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        BigOrder:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Orders
            Pattern:
              source: [shop]
              detail:
                total: [{numeric: [">=", 100]}]
            InputTransformer:
              InputPathsMap: {total: $.detail.total}
              InputTemplate: '{"big": <total>}'
            RetryPolicy:
              MaximumRetryAttempts: 2
              MaximumEventAgeInSeconds: 600
            DeadLetterConfig:
              Arn: !GetAtt Failed.Arn
Outputs:
  BusName:
    Value: !Ref Orders
"""


def test_a_sam_eventbridge_rule_event_invokes_the_function_for_matching_events(sb, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", "orders")
    function, bus = stack.resource("Notify").physical_id, stack.output("BusName")
    assert bus == "orders-bus"
    events = sb.client("events")
    for total in (250, 5):
        events.put_events(
            Entries=[
                {
                    "Source": "shop",
                    "DetailType": "Order",
                    "Detail": json.dumps({"total": total}),
                    "EventBusName": bus,
                }
            ]
        )

    def results() -> list:
        return [r.result for r in sb.records.all() if r.function_name == function and r.final]

    assert eventually(results, what="the matching event's invocation") == [{"big": 250}]
    time.sleep(0.5)
    assert results() == [{"big": 250}]
    triggers = [t for t in sb.triggers() if t.get("function") == function]
    assert triggers and triggers[0]["kind"] == "EventBridge rule" and "orders-bus" in triggers[0]["source"]
    (app,) = [a for a in sb.applications() if a["name"] == "orders"]
    assert any(t["type"] == "EventBridgeRule" for f in app["functions"] for t in f["triggers"])
