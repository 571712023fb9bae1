"""Templates nobody here wrote: AWS's published SAM applications (tests/sam_apps/, each naming its source),
each run in one sandbox and driven end to end through its real trigger - an HTTP request to its REST API,
an object put into its bucket, a change to its table, a message sent to its queue, its scheduled rule.

The first starts the sandbox (`run_local.py --template`'s path); the others are deployed into it the same
way, from their folders."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from helpers.paths import SAM_APPS
from helpers.waiting import settle, wait_for_record

pytestmark = pytest.mark.slow
APPS = SAM_APPS


@pytest.fixture(scope="module")
def sb():
    from sandbox.config import SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.sam import TemplateStack

    stack = TemplateStack.from_file(APPS / "hello-world" / "template.yaml", stack_name="sam-app")
    sandbox = Sandbox(SandboxConfig(port=0, web_port=None), startup_stack=stack).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def apps(sb) -> dict:
    """Every public app, each deployed from its folder into the running sandbox."""
    deployed = {"sam-app": sb.template_stacks.get("sam-app")}
    for folder, overrides in (
        ("s3-json-logger", {"AppBucketName": "my-json-logger-bucket"}),
        ("dynamodb-process-stream", {}),
        ("sqs-payload-logger", {}),
        ("scheduled-event-logger", {}),
        ("web-backend", {}),
    ):
        deployed[folder] = sb.template_stacks.deploy(APPS / folder / "template.yaml", folder, overrides)
    return deployed


def request(sb, url: str, body: bytes | None = None) -> tuple[int, str]:
    """An HTTP request to an execute-api URL of the sandbox, as a browser would send it (Python does not
    resolve *.localhost, so it connects to 127.0.0.1 with that Host)."""
    found = re.match(r"http://([a-z0-9]+)\.execute-api\.localhost:\d+(/.*)$", url)
    assert found, url
    call = urllib.request.Request(
        f"{sb.endpoint_url}{found.group(2)}",
        data=body,
        method="POST" if body else "GET",
        headers={"Host": f"{found.group(1)}.execute-api.localhost:{sb.endpoint.port}"},
    )
    with urllib.request.urlopen(call, timeout=30) as answer:
        return answer.status, answer.read().decode()


def invocation_of(sb, stack, logical_id: str):
    name = stack.resource(logical_id).physical_id
    return wait_for_record(
        sb, lambda r: r.function_name == name and r.final, what=f"{logical_id}'s invocation"
    )


def test_hello_world_answers_get_hello_at_the_url_of_its_output(sb, apps):
    stack = apps["sam-app"]
    url = stack.output("HelloWorldApi")
    assert url.endswith("/Prod/hello/") and url.startswith("http://")
    status, body = request(sb, url)
    assert (status, json.loads(body)) == (200, {"message": "hello world"})
    record = invocation_of(sb, stack, "HelloWorldFunction")
    assert record.event["httpMethod"] == "GET" and record.event["resource"] == "/hello"


def test_s3_app_logs_each_json_object_put_into_its_bucket_and_ignores_others(sb, apps):
    stack = apps["s3-json-logger"]
    sb.s3.put_object(Bucket="my-json-logger-bucket", Key="notes.txt", Body=b"not json")
    sb.s3.put_object(Bucket="my-json-logger-bucket", Key="orders/1.json", Body=b'{"order": 1}')
    record = invocation_of(sb, stack, "S3JsonLoggerFunction")
    assert record.status == "success", record.error_message
    settle(sb)
    name = stack.resource("S3JsonLoggerFunction").physical_id
    invoked = [
        r.event["Records"][0]["s3"]["object"]["key"] for r in sb.records.all() if r.function_name == name
    ]
    assert invoked == ["orders/1.json"]  # the template's suffix filter
    logged = [e.message for e in sb.log_events(request_id=record.request_id)]
    assert any('"content": {"order": 1}' in line for line in logged)
    assert sb.s3.get_bucket_versioning(Bucket="my-json-logger-bucket")["Status"] == "Enabled"


def test_dynamodb_stream_app_processes_each_change_to_its_table(sb, apps):
    stack = apps["dynamodb-process-stream"]
    sb.client("dynamodb").put_item(
        TableName=stack.resource("Table1").physical_id, Item={"id": {"S": "item-1"}}
    )
    record = invocation_of(sb, stack, "dynamodbprocessstreampython3")
    assert record.status == "success", record.error_message
    assert record.result == "Successfully processed 1 records."
    assert record.event["Records"][0]["eventName"] == "INSERT"
    assert record.event["Records"][0]["dynamodb"]["NewImage"] == {"id": {"S": "item-1"}}


def test_sqs_app_logs_each_message_sent_to_its_queue(sb, apps):
    stack = apps["sqs-payload-logger"]
    sb.sqs.send_message(
        QueueUrl=stack.resource("SimpleQueue").physical_id, MessageBody="hello from the queue"
    )
    record = invocation_of(sb, stack, "SQSPayloadLogger")
    assert record.status == "success", record.error_message
    assert [r["body"] for r in record.event["Records"]] == ["hello from the queue"]
    assert any("hello from the queue" in e.message for e in sb.log_events(request_id=record.request_id))


def test_scheduled_app_runs_with_the_scheduled_event_when_its_rule_fires(sb, apps):
    stack = apps["scheduled-event-logger"]
    rule = stack.resource("ScheduledEventLoggerCloudWatchEvent").physical_id
    [scheduled] = [s for s in sb.schedules() if s["name"] == rule]
    assert "cron(0 * * * ? *)" in json.dumps(scheduled)
    sb.fire_rule(rule)
    record = invocation_of(sb, stack, "ScheduledEventLogger")
    assert record.status == "success", record.error_message
    assert record.event["detail-type"] == "Scheduled Event" and record.event["resources"][0].endswith(
        f"rule/{rule}"
    )


def test_web_backend_puts_and_reads_items_through_its_rest_api_and_table(sb, apps):
    stack = apps["web-backend"]
    endpoint = stack.output("WebEndpoint")
    status, body = request(sb, endpoint, json.dumps({"id": "id1", "name": "first item"}).encode())
    assert status == 200
    assert json.loads(request(sb, endpoint + "id1")[1]) == {"id": "id1", "name": "first item"}
    assert json.loads(request(sb, endpoint)[1]) == [{"id": "id1", "name": "first item"}]
    table = stack.resource("SampleTable").physical_id
    assert sb.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "id1"}})["Item"]["name"] == {
        "S": "first item"
    }


def test_every_public_app_is_on_the_page_with_its_functions_and_triggers(sb, apps):
    applications = {a["name"]: a for a in sb.applications()}
    assert set(apps) <= set(applications)
    triggers = {t["type"] for a in applications.values() for f in a["functions"] for t in f["triggers"]}
    assert triggers == {"Api", "S3", "DynamoDB", "SQS", "Schedule"}
