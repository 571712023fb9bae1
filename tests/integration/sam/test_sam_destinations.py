"""SAM's ``EventInvokeConfig`` in templates: a function's asynchronous retries and on-success and on-failure
destinations (``Type`` SQS, SNS, Lambda, EventBridge), deployed into a running sandbox and driven by
asynchronous invocations; each record is read back from where the template sends it."""

from __future__ import annotations

import json
import textwrap

from helpers.waiting import eventually, wait_for_record

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Succeeded:
    Type: AWS::SQS::Queue
  Failed:
    Type: AWS::SNS::Topic
  FailedCopy:
    Type: AWS::SQS::Queue
  FailedCopySubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Failed
      Protocol: sqs
      Endpoint: !GetAtt FailedCopy.Arn
      RawMessageDelivery: true
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        MaximumEventAgeInSeconds: 600
        DestinationConfig:
          OnSuccess:
            Type: SQS
            Destination: !GetAtt Succeeded.Arn
          OnFailure:
            Type: SNS
            Destination: !Ref Failed
Outputs:
  SucceededUrl:
    Value: !Ref Succeeded
  FailedCopyUrl:
    Value: !Ref FailedCopy
"""

HANDLER = """\
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"done": event["n"]}
"""


def test_a_sam_event_invoke_config_sends_records_where_the_template_says(sb, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", "destinations")
    function = stack.resource("Worker").physical_id
    lam, sqs = sb.client("lambda"), sb.client("sqs")
    config = lam.get_function_event_invoke_config(FunctionName=function)
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 600)
    destinations = config["DestinationConfig"]
    assert destinations["OnSuccess"]["Destination"].startswith("arn:aws:sqs:")
    assert destinations["OnFailure"]["Destination"].startswith("arn:aws:sns:")

    def record_in(url: str, what: str) -> dict:
        messages = eventually(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), what=what)
        return json.loads(messages[0]["Body"])

    lam.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"n": 1}')
    success = record_in(stack.output("SucceededUrl"), "the on-success record in the queue")
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestPayload"] == {"n": 1} and success["responsePayload"] == {"done": 1}

    lam.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"n": 2, "fail": true}')
    failure = record_in(stack.output("FailedCopyUrl"), "the on-failure record published to the topic")
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts: 0
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorType"] == "RuntimeError"
    attempts = wait_for_record(
        sb, lambda r: r.function_name == function and r.event.get("n") == 2 and r.final, what="the attempt"
    )
    assert attempts.destination.startswith("on-failure record sent to arn:aws:sns:")
