"""Writing into the bucket that triggers the function: Lambda's recursive loop detection stops a chain after
16 invocations, and the project's handler guards itself so its own outputs end the chain at once."""

import datetime
import json

import pytest

from helpers.paths import HANDLERS, SAMPLES
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, route_s3_writes, settle, wait_for_record

SOURCE = "source-image-bucket123"


@pytest.mark.slow
def test_writing_into_the_triggering_bucket_stops_by_itself_after_16_invocations():
    sb = start_sandbox(HANDLERS / "loop", environment={"DESTINATION_BUCKET": SOURCE})
    try:
        sb.s3.put_object(Bucket=SOURCE, Key="seed.txt", Body=b"seed")
        wait_for_record(sb, lambda r: r.status == "dropped", what="the 17th write of the chain to be dropped")
        # The drop is recorded, then counted, logged and dead-lettered: the dead letter comes last.
        letters = eventually(sb.dead_letters, what="the dropped event in the dead-letter queue")
        # Each invocation of the loop handler makes exactly one write, and every one of them has been routed
        # (the seed started the 1st invocation, writes 1-15 the 2nd to 16th, write 16 was dropped): once the
        # 16th has finished, nothing can start another.
        settle(sb)
        assert len([r for r in sb.invocations() if r.status == "success"]) == 16  # the loop has stopped
        sb.metrics.flush()
        now = datetime.datetime.now(datetime.timezone.utc)
        stats = sb.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="RecursiveInvocationsDropped",
            Dimensions=[{"Name": "FunctionName", "Value": "ImageResizeLambda"}],
            StartTime=now - datetime.timedelta(minutes=5),
            EndTime=now + datetime.timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )
        assert sum(p["Sum"] for p in stats["Datapoints"]) == 1
        assert letters[0]["error_message"].startswith("Lambda has detected")
        assert any("recursive loop" in e.message for e in sb.log_events())
    finally:
        sb.stop()


def test_project_handler_with_destination_equal_to_source_skips_its_own_outputs():
    sb = start_sandbox(environment={"DESTINATION_BUCKET": SOURCE})
    try:
        sb.s3.upload_file(str(SAMPLES / "test.jpg"), SOURCE, "test.jpg")
        first = sb.wait_for_key("test.jpg")
        second = sb.wait_for_key("resized-test.jpg")
        assert first.status == second.status == "success"
        assert json.loads(second.result["body"])["results"][0]["status"] == "skipped"
        marker = route_s3_writes(sb)  # anything the two wrote has been routed by now...
        settle(sb)  # ...and has run
        assert [r.id for r in sb.invocations() if r is not marker] == [second.id, first.id]
    finally:
        sb.stop()


@pytest.mark.slow
def test_a_function_publishing_to_its_own_topic_stops_by_itself_after_16_invocations():
    sb = start_sandbox(HANDLERS / "sns_loop")
    try:
        sns = sb.client("sns")
        topic = sns.create_topic(Name="echo")["TopicArn"]
        arn = sb.client("lambda").get_function(FunctionName=sb.function.function_name)["Configuration"]
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn["FunctionArn"])
        sns.publish(TopicArn=topic, Message="seed")
        dropped = wait_for_record(sb, lambda r: r.status == "dropped", what="the 17th message to be dropped")
        assert dropped.trigger == "sns" and dropped.error_type == "RecursiveInvocationException"
        eventually(sb.dead_letters, what="the dropped event in the dead-letter queue")
        settle(sb)
        assert len([r for r in sb.invocations() if r.status == "success"]) == 16  # the loop has stopped
    finally:
        sb.stop()
