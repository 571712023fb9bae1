"""SNS in templates: a SAM function's ``SNS`` event (a subscription with its filter policy), topics and
queue subscriptions, deployed into a running sandbox and driven by publishing to the topic."""

from __future__ import annotations

import json
import textwrap
import time

from helpers.waiting import eventually

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SNS::Topic
  BigOrders:
    Type: AWS::SQS::Queue
  BigOrdersSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Orders
      Protocol: sqs
      Endpoint: !GetAtt BigOrders.Arn
      RawMessageDelivery: true
      FilterPolicyScope: MessageBody
      FilterPolicy: {size: [big]}
  Notify:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        OrderPlaced:
          Type: SNS
          Properties:
            Topic: !Ref Orders
            FilterPolicy:
              kind: [order]
Outputs:
  TopicArn:
    Value: !Ref Orders
  QueueUrl:
    Value: !Ref BigOrders
"""


def test_a_sam_sns_event_subscribes_the_function_with_its_filter_policy(sb, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", "orders")
    function, topic = stack.resource("Notify").physical_id, stack.output("TopicArn")
    sns = sb.client("sns")

    def publish(kind: str, size: str) -> str:
        return sns.publish(
            TopicArn=topic,
            Message=json.dumps({"size": size}),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )["MessageId"]

    order, other = publish("order", "big"), publish("refund", "small")

    def invoked() -> list[str]:
        return [
            r.subject.get("message_id") for r in sb.records.all() if r.function_name == function and r.final
        ]

    assert eventually(invoked, what="the SNS event's invocation") == [order]
    url = stack.output("QueueUrl")
    bodies = eventually(
        lambda: sb.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []),
        what="the big order in the queue",
    )
    assert [json.loads(m["Body"]) for m in bodies] == [{"size": "big"}]
    time.sleep(0.5)
    assert invoked() == [order] and other not in invoked()
    triggers = [t for t in sb.triggers() if t.get("function") == function]
    assert triggers and 'filter policy on attributes {"kind":["order"]}' in triggers[0]["detail"]
    (app,) = [a for a in sb.applications() if a["name"] == "orders"]
    assert any(t["type"] == "SNS" for f in app["functions"] for t in f["triggers"])
