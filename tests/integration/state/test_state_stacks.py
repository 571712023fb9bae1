"""Stacks made from templates survive a restart from a state directory (`--state-dir`): the one
`run_local.py --template` starts with, those `aws cloudformation deploy` creates, and the examples'
resources. Each test starts a real sandbox on a state directory, stops it, starts another on the same
directory and drives what was kept through its trigger, as a person would after `make run` again."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from helpers.aws_cli import aws_cli
from helpers.paths import SAM_APPS, SAMPLES
from helpers.processes import run_local_banner
from helpers.waiting import eventually, wait_for_record

pytestmark = pytest.mark.slow
APPS = SAM_APPS
ARTIFACTS = "deploy-artifacts"


def sandbox(state_dir: Path, template: Path | None = None, parameters: dict | None = None):
    """A sandbox on ``state_dir``, started: the template's stack when one is given, else the guide's."""
    from sandbox.config import SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.sam import TemplateStack

    stack = TemplateStack.from_file(template, parameters) if template else None
    return Sandbox(
        SandboxConfig(port=0, web_port=None, state_dir=str(state_dir)), startup_stack=stack
    ).start()


def get(sb, url: str):
    """A GET to an execute-api URL of the sandbox (Python does not resolve *.localhost: 127.0.0.1 with its
    Host)."""
    found = re.match(r"http://([a-z0-9]+)\.execute-api\.localhost:(\d+)(/.*)?$", url)
    assert found and int(found.group(2)) == sb.endpoint.port, url
    request = urllib.request.Request(
        f"{sb.endpoint_url}{found.group(3) or '/'}",
        headers={"Host": f"{found.group(1)}.execute-api.localhost:{sb.endpoint.port}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def without_port(value, port: int):
    return json.loads(json.dumps(value).replace(f":{port}", ":PORT"))


WORKER_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        FromJobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
Outputs:
  JobsUrl:
    Value: !Ref Jobs
  WorkerArn:
    Value: !GetAtt Worker.Arn
    Export:
      Name: worker-arn
"""


def test_a_template_stack_comes_back_with_its_functions_triggers_outputs_and_hot_reload(tmp_path):
    app = tmp_path / "worker-app"
    (app / "src").mkdir(parents=True)
    (app / "template.yaml").write_text(WORKER_TEMPLATE)
    handler = app / "src" / "app.py"
    handler.write_text(
        "def handler(event, context):\n    return {'v': 1, 'bodies': [r['body'] for r in event['Records']]}\n"
    )
    state = tmp_path / "state"
    sb = sandbox(state, app / "template.yaml")
    try:
        [before] = sb.applications()
        function = sb.function.function_name  # a generated name: worker-app-Worker-<random>
        first_port = sb.endpoint.port
    finally:
        sb.stop()

    sb = sandbox(state, app / "template.yaml")
    try:
        assert sb.restored
        [after] = sb.applications()
        assert after["status"] == "CREATE_COMPLETE" and after["restored"] == []
        assert sb.function.function_name == function  # the kept function, not one under a new name
        assert [(f["name"], f["code"], [t["type"] for t in f["triggers"]]) for f in after["functions"]] == [
            (function, str(app / "src"), ["SQS"])
        ]
        assert without_port(after, sb.endpoint.port) == without_port(dict(before, restored=[]), first_port)
        outputs = {o["key"]: o["value"] for o in after["outputs"]}
        assert outputs["JobsUrl"].startswith(f"{sb.endpoint_url}/")  # this run's port
        # the trigger, end to end
        sb.sqs.send_message(QueueUrl=outputs["JobsUrl"], MessageBody="after the restart")
        record = wait_for_record(
            sb, lambda r: r.function_name == function and r.final, what="the message's invocation"
        )
        assert record.status == "success" and record.result == {"v": 1, "bodies": ["after the restart"]}
        # CloudFormation's API on the local endpoint knows the stack again, and its export
        cfn = sb.client("cloudformation")
        [described] = cfn.describe_stacks(StackName="worker-app")["Stacks"]
        assert described["StackStatus"] == "CREATE_COMPLETE"
        assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} == outputs
        assert (
            cfn.describe_stack_resource(StackName="worker-app", LogicalResourceId="Worker")[
                "StackResourceDetail"
            ]["PhysicalResourceId"]
            == function
        )
        assert [e["Name"] for e in cfn.list_exports()["Exports"]] == ["worker-arn"]
        # hot reload of the CodeUri folder, watched again (a different length: Python's cached bytecode
        # is checked by the source's size and mtime in seconds)
        handler.write_text("def handler(event, context):\n    return {'version': 2}\n")
        eventually(
            lambda: sb.invoke({"Records": []}, function).result,
            lambda result: result == {"version": 2},
            what="the saved code to run after the restart",
            interval=0.3,
        )
    finally:
        sb.stop()


def test_a_template_stacks_rest_api_answers_after_a_restart(tmp_path):
    app = Path(shutil.copytree(APPS / "hello-world", tmp_path / "hello-world"))
    state = tmp_path / "state"
    sb = sandbox(state, app / "template.yaml")
    try:
        assert get(sb, sb.startup_stack.output("HelloWorldApi")) == {"message": "hello world"}
    finally:
        sb.stop()
    sb = sandbox(state, app / "template.yaml")
    try:
        assert get(sb, sb.startup_stack.output("HelloWorldApi")) == {"message": "hello world"}
    finally:
        sb.stop()


def test_a_changed_template_is_reported_and_the_kept_stack_still_runs(tmp_path):
    from sandbox.cli.serve import _application_lines

    app = Path(shutil.copytree(APPS / "sqs-payload-logger", tmp_path / "sqs-payload-logger"))
    state = tmp_path / "state"
    sb = sandbox(state, app / "template.yaml")
    try:
        function = sb.function.function_name
        queue = sb.startup_stack.resource("SimpleQueue").physical_id
    finally:
        sb.stop()
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("MemorySize: 128", "MemorySize: 256"))

    sb = sandbox(state, template)
    try:
        [application] = sb.applications()
        [note] = application["restored"]
        assert note.startswith("template changed since the state was kept") and "--fresh" in note
        assert note in application["warnings"]  # what the page shows
        lines = _application_lines(sb)
        assert lines[0].endswith("(stack sqs-payload-logger, restored from the state)")
        assert lines[1] == f"  warning: {note}"
        [function_info] = application["functions"]
        assert function_info["memory_size"] == 128  # the kept template, not the changed file
        # the queue's URL follows the endpoint to this run's port, and its trigger runs
        moved = sb.startup_stack.resource("SimpleQueue").physical_id
        assert moved == re.sub(r":\d+/", f":{sb.endpoint.port}/", queue)
        sb.sqs.send_message(QueueUrl=moved, MessageBody="after the restart")
        record = wait_for_record(
            sb, lambda r: r.function_name == function and r.final, what="the message's invocation"
        )
        assert record.status == "success" and record.event["Records"][0]["body"] == "after the restart"
    finally:
        sb.stop()


def test_changed_parameters_are_named_and_the_kept_buckets_trigger_still_runs(tmp_path):
    app = Path(shutil.copytree(APPS / "s3-json-logger", tmp_path / "s3-json-logger"))
    state = tmp_path / "state"
    sb = sandbox(state, app / "template.yaml", {"AppBucketName": "kept-json-bucket"})
    try:
        function = sb.function.function_name
    finally:
        sb.stop()

    sb = sandbox(state, app / "template.yaml", {"AppBucketName": "another-json-bucket"})
    try:
        [application] = sb.applications()
        assert application["restored"] == [
            "parameters changed since the state was kept (AppBucketName): the stack runs with the kept "
            "values; run with --fresh to re-create it with the new ones, or update it with aws "
            "cloudformation deploy --parameter-overrides"
        ]
        assert "another-json-bucket" not in json.dumps(application)
        [trigger] = application["functions"][0]["triggers"]
        assert trigger["source"] == "s3://kept-json-bucket"
        sb.s3.put_object(Bucket="kept-json-bucket", Key="after-restart.json", Body=b"{}")
        record = wait_for_record(
            sb, lambda r: r.function_name == function and r.final, what="the upload's invocation"
        )
        assert record.status == "success"
        assert record.event["Records"][0]["s3"]["object"]["key"] == "after-restart.json"
    finally:
        sb.stop()


def test_a_stack_deployed_with_aws_cloudformation_comes_back_and_can_be_updated_and_deleted(tmp_path):
    app = Path(shutil.copytree(APPS / "sqs-payload-logger", tmp_path / "app"))
    state = tmp_path / "state"

    def deploy(aws) -> subprocess.CompletedProcess:
        packaged = aws(
            "cloudformation",
            "package",
            "--template-file",
            "template.yaml",
            "--s3-bucket",
            ARTIFACTS,
            "--output-template-file",
            str(app / "packaged.yaml"),
            cwd=app,
        )
        assert packaged.returncode == 0, packaged.stderr
        return aws(
            "cloudformation",
            "deploy",
            "--template-file",
            str(app / "packaged.yaml"),
            "--stack-name",
            "sqs-app",
            "--capabilities",
            "CAPABILITY_IAM",
        )

    sb = sandbox(state)
    try:
        sb.s3.create_bucket(Bucket=ARTIFACTS)
        deployed = deploy(aws_cli(sb))
        assert deployed.returncode == 0, deployed.stderr
        cfn = sb.client("cloudformation")
        function = cfn.describe_stack_resource(StackName="sqs-app", LogicalResourceId="SQSPayloadLogger")[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
    finally:
        sb.stop()

    sb = sandbox(state)  # the guide's sandbox (make run): the deployed stack is in its state
    try:
        cfn = sb.client("cloudformation")  # reads and the delete: boto3's; the CLI's deploy is the point
        assert cfn.describe_stacks(StackName="sqs-app")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        [application] = sb.applications()
        assert application["origin"] == "aws cloudformation" and application["restored"] == []
        assert [(f["name"], [t["type"] for t in f["triggers"]]) for f in application["functions"]] == [
            (function, ["SQS"])
        ]
        queue = cfn.describe_stack_resource(StackName="sqs-app", LogicalResourceId="SimpleQueue")[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
        sb.sqs.send_message(QueueUrl=queue, MessageBody="kept")
        record = wait_for_record(
            sb, lambda r: r.function_name == function and r.final, what="the message's invocation"
        )
        assert record.status == "success" and record.event["Records"][0]["body"] == "kept"

        handler = app / "src" / "handlers" / "sqs_payload_logger.py"
        handler.write_text(
            handler.read_text().replace('"body": record["body"]', '"body": record["body"], "v": 2')
        )
        updated = deploy(aws_cli(sb))
        assert updated.returncode == 0, updated.stderr
        assert cfn.describe_stacks(StackName="sqs-app")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    finally:
        sb.stop()

    sb = sandbox(state)  # the update was kept too
    try:
        cfn = sb.client("cloudformation")
        assert cfn.describe_stacks(StackName="sqs-app")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
        cfn.delete_stack(StackName="sqs-app")
        assert function not in [f.function_name for f in sb.functions()]
        assert sb.applications() == []
    finally:
        sb.stop()

    sb = sandbox(state)  # and so was the delete
    try:
        assert sb.applications() == []
        assert sb.client("cloudformation").describe_stacks()["Stacks"] == []
    finally:
        sb.stop()


def test_the_examples_resources_and_triggers_work_after_a_restart(tmp_path):
    from sandbox.guide import example_setups as examples

    state = tmp_path / "state"
    sb = sandbox(state)
    try:
        examples.set_up(sb, ["queue", "stream", "schedule"])
    finally:
        sb.stop()

    sb = sandbox(state)  # as run_local.py does on a restored start: the examples are not set up again
    try:
        assert {"ImageResizeQueueLambda", "ImageCaptionsLambda", "BucketReportLambda"} <= {
            f.function_name for f in sb.functions()
        }
        sb.s3.upload_file(str(SAMPLES / "test.jpg"), "queued-image-bucket123", "queued.jpg")
        record = wait_for_record(
            sb,
            lambda r: r.function_name == "ImageResizeQueueLambda" and r.final,
            what="the queue example's invocation",
        )
        assert record.status == "success", record.error_message
        sb.client("dynamodb").put_item(
            TableName="image-captions", Item={"key": {"S": "queued.jpg"}, "caption": {"S": "After a restart"}}
        )
        record = wait_for_record(
            sb,
            lambda r: r.function_name == "ImageCaptionsLambda" and r.final,
            what="the stream example's invocation",
        )
        assert record.status == "success", record.error_message
        assert [s["name"] for s in sb.schedules()] == ["bucket-report"]
        [fired] = sb.fire_rule("bucket-report")
        record = wait_for_record(sb, lambda r: r.id == fired.id and r.final, what="the report's invocation")
        assert record.status == "success", record.error_message
        eventually(
            lambda: sb.s3.list_objects_v2(Bucket=sb.config.destination_bucket).get("Contents", []),
            lambda found: {"resized-queued.jpg", "captions/queued.jpg.txt"} <= {o["Key"] for o in found},
            what="the examples' outputs in the destination bucket",
        )
    finally:
        sb.stop()


def test_the_api_examples_http_api_comes_back_after_a_restart(tmp_path):
    from sandbox.guide import example_setups as examples

    state = tmp_path / "state"
    sb = sandbox(state)
    try:
        examples.set_up(sb, ["api"])
        [api] = sb.client("apigatewayv2").get_apis()["Items"]
    finally:
        sb.stop()
    sb = sandbox(state)
    try:
        assert [a["ApiId"] for a in sb.client("apigatewayv2").get_apis()["Items"]] == [api["ApiId"]]
        with urllib.request.urlopen(
            f"{sb.endpoint_url}/_aws/execute-api/{api['ApiId']}/images", timeout=30
        ) as answer:
            assert answer.status == 200
    finally:
        sb.stop()


def test_run_local_with_a_state_directory_prints_the_kept_application_on_the_next_start(tmp_path):
    app = Path(shutil.copytree(APPS / "hello-world", tmp_path / "hello-world"))

    def banner() -> str:
        return run_local_banner(
            "--template", str(app / "template.yaml"), "--state-dir", str(tmp_path / "state")
        )

    first = banner()
    assert "(stack hello-world)" in first
    second = banner()
    assert "(stack hello-world, restored from the state)" in second
    assert re.search(r"HelloWorldApi\s*: http://[a-z0-9]+\.execute-api\.localhost:\d+/Prod/hello/", second), (
        second
    )
    assert "HelloWorldFunction (hello-world-HelloWorldFunction-" in second
    function = re.search(r"HelloWorldFunction \((hello-world-HelloWorldFunction-\w+)", first).group(1)
    assert f"HelloWorldFunction ({function}," in second  # the same function, not a new one
