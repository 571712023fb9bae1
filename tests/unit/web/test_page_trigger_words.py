"""How the page names a trigger and what became of a result, in a teacher's words: pure functions over the
sandbox's trigger descriptions and invocation records."""

from __future__ import annotations

from sandbox.lambda_.invocation import InvocationRecord
from web.stages import guide_stages
from web.views.functions import trigger_label


def test_a_trigger_is_named_by_what_it_reads_not_by_the_tail_of_its_arn():
    stream = "arn:aws:dynamodb:us-east-1:123456789012:table/image-captions/stream/2026-12-07T03:32:52.398"
    assert (
        trigger_label({"kind": "DynamoDB stream", "source": stream})
        == "DynamoDB stream of table image-captions"
    )
    queue = "arn:aws:sqs:us-east-1:123456789012:image-resize-queue"
    assert trigger_label({"kind": "SQS queue", "source": queue}) == "SQS queue image-resize-queue"
    kinesis = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    assert trigger_label({"kind": "Kinesis stream", "source": kinesis}) == "Kinesis stream clicks"


def test_a_scheduled_trigger_says_its_kind_once_and_its_schedule():
    rule = {
        "kind": "EventBridge rule",
        "source": "rule bucket-report",
        "detail": "cron(0 3 * * ? *) -> function BucketReportLambda",
    }
    assert trigger_label(rule) == "EventBridge rule bucket-report, cron(0 3 * * ? *)"
    s3 = {"kind": "S3 notification", "source": "s3://source-image-bucket123"}
    assert trigger_label(s3) == "S3 notification s3://source-image-bucket123"


def _finished(trigger: str, invocation_type: str, result) -> InvocationRecord:
    return InvocationRecord(
        request_id="r-1",
        function_name="F",
        event={},
        trigger=trigger,
        invocation_type=invocation_type,
        status="success",
        result=result,
        detected_at=1.0,
        allocated_at=1.1,
        started_at=1.1,
        finished_at=1.2,
        responded_at=1.21,
        duration_ms=100.0,
        billed_duration_ms=100,
    )


def test_the_result_stage_says_what_the_invoker_did_with_the_result():
    def result_note(trigger, invocation_type, result=None):
        return guide_stages(_finished(trigger, invocation_type, result), 2)[4]["note"]

    api = result_note("apigateway", "RequestResponse", {"statusCode": 200, "body": "[]"})
    assert api == "The handler returned; API Gateway got the response, status 200."
    assert "deletes the messages from the queue" in result_note("sqs", "RequestResponse")
    assert "moves past these records in the stream" in result_note("dynamodb", "RequestResponse")
    assert result_note("schedule", "Event").startswith("Nobody waits for it: EventBridge has gone")
