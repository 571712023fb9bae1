"""The project's template.yaml brings up the same sandbox as `make run`, from the template alone (what
`make run ARGS="--template template.yaml"` runs): the guide's function, role, layer, buckets and trigger,
and the examples' functions with their triggers, each driven through that trigger; hot reload of a
template's folders; what the page is given; the banner with the Outputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import urllib.request

import pytest

from helpers.paths import PROJECT_ROOT, SAMPLES
from helpers.processes import run_local_banner
from helpers.waiting import eventually, wait_for_record

SOURCE, DESTINATION, QUEUED = "source-image-bucket123", "resized-image-bucket123", "queued-image-bucket123"


@pytest.fixture(scope="module")
def sb():
    from sandbox.config import SandboxConfig
    from sandbox.core import Sandbox
    from sandbox.sam import TemplateStack

    sandbox = Sandbox(
        SandboxConfig(port=0, web_port=None),
        startup_stack=TemplateStack.from_file(PROJECT_ROOT / "template.yaml"),
    ).start()
    yield sandbox
    sandbox.stop()


def keys(sb, bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in sb.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def get(sb, url: str) -> dict:
    """A GET to an execute-api URL of the sandbox (Python does not resolve *.localhost: 127.0.0.1 with its
    Host)."""
    found = re.match(r"http://([a-z0-9]+)\.execute-api\.localhost:\d+(/.*)?$", url)
    request = urllib.request.Request(
        f"{sb.endpoint_url}{found.group(2) or '/'}",
        headers={"Host": f"{found.group(1)}.execute-api.localhost:{sb.endpoint.port}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_template_creates_the_guides_function_role_layer_queue_buckets_and_trigger(sb):
    configuration = sb.client("lambda").get_function_configuration(FunctionName="ImageResizeLambda")
    assert (
        configuration["Handler"],
        configuration["Runtime"],
        configuration["MemorySize"],
        configuration["Timeout"],
    ) == ("lambda_function.lambda_handler", "python3.12", 128, 3)
    assert configuration["Role"].endswith(":role/ImageResizeLambdaRole")
    assert ":layer:pillow-layer:" in configuration["Layers"][0]["Arn"]
    assert sb.function.dead_letter_queue == "ImageResizeLambda-dlq"  # moto keeps no DeadLetterConfig
    attached = sb.client("iam").list_attached_role_policies(RoleName="ImageResizeLambdaRole")[
        "AttachedPolicies"
    ]
    assert sorted(p["PolicyName"] for p in attached) == ["AWSLambdaBasicExecutionRole", "AmazonS3FullAccess"]
    trigger = sb.s3.get_bucket_notification_configuration(Bucket=SOURCE)["LambdaFunctionConfigurations"]
    assert [(t["LambdaFunctionArn"], t["Events"]) for t in trigger] == [
        (configuration["FunctionArn"], ["s3:ObjectCreated:*"])
    ]
    assert sb.function.function_name == "ImageResizeLambda"
    assert sb.function.code_dir == PROJECT_ROOT / "handler"  # run from the folder itself, not from a zip


def test_upload_to_the_source_bucket_is_resized_as_with_make_run(sb):
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), SOURCE, "test.jpg")
    record = sb.wait_for_key("test.jpg")
    assert record is not None and record.status == "success", record and record.error_message
    assert "resized-test.jpg" in keys(sb, DESTINATION)


def test_the_guides_function_imports_pillow_from_its_layer_as_on_aws(sb):
    function = sb.function
    assert (
        function.strict_imports
    )  # the sandbox's site-packages are not on its path: the layer must bring Pillow
    assert any((folder / "python" / "PIL").is_dir() for folder in function.layers)


def test_queue_example_resizes_uploads_fed_through_the_queue(sb):
    sb.s3.upload_file(str(SAMPLES / "test.jpg"), QUEUED, "queued.jpg")
    eventually(
        lambda: keys(sb, DESTINATION),
        lambda found: "resized-queued.jpg" in found,
        what="resized-queued.jpg from the queue's function",
    )


def test_stream_example_writes_captions_from_the_tables_stream(sb):
    sb.client("dynamodb").put_item(
        TableName="image-captions", Item={"key": {"S": "caption.jpg"}, "caption": {"S": "A sunny day"}}
    )
    eventually(
        lambda: keys(sb, DESTINATION, "captions/"),
        lambda found: "captions/caption.jpg.txt" in found,
        what="captions/caption.jpg.txt from the stream's function",
    )


def test_api_example_answers_at_the_url_its_output_names(sb):
    stack = sb.template_stacks.get(sb.applications()[0]["name"])
    url = stack.output("ImagesApiUrl")
    assert url.startswith("http://") and f".execute-api.localhost:{sb.endpoint.port}/images" in url
    assert "images" in get(sb, url)


def test_schedule_example_writes_its_report_when_its_rule_fires(sb):
    rule = next(s for s in sb.schedules() if s["name"] == "bucket-report")
    assert "cron(0 3 * * ? *)" in json.dumps(rule)
    sb.fire_rule("bucket-report")
    record = wait_for_record(
        sb, lambda r: r.function_name == "BucketReportLambda" and r.final, what="the report's invocation"
    )
    assert record.status == "success", record.error_message
    assert keys(sb, DESTINATION, "reports/")


def test_applications_give_the_page_functions_with_their_triggers_and_local_outputs(sb):
    [application] = sb.applications()
    assert application["template"].endswith("template.yaml") and application["status"] == "CREATE_COMPLETE"
    functions = {f["name"]: f for f in application["functions"]}
    assert set(functions) == {
        "ImageResizeLambda",
        "ImagesApiLambda",
        "ImageResizeQueueLambda",
        "ImageCaptionsLambda",
        "BucketReportLambda",
    }
    assert [(t["type"], t["source"]) for t in functions["ImageResizeLambda"]["triggers"]] == [
        ("S3", f"s3://{SOURCE}")
    ]
    assert [t["type"] for t in functions["ImageResizeQueueLambda"]["triggers"]] == ["SQS"]
    assert [t["type"] for t in functions["ImageCaptionsLambda"]["triggers"]] == ["DynamoDB"]
    assert [t["type"] for t in functions["BucketReportLambda"]["triggers"]] == ["Schedule"]
    assert [t["route"] for t in functions["ImagesApiLambda"]["triggers"]] == ["$default"]
    outputs = {o["key"]: o["value"] for o in application["outputs"]}
    assert outputs["SourceBucket"] == SOURCE
    assert outputs["ImagesApiUrl"].startswith("http://")
    assert any(r["type"] == "AWS::Lambda::LayerVersion" for r in application["resources"])


def test_saving_a_file_in_a_template_functions_folder_runs_the_new_code_next(sb, tmp_path):
    app = tmp_path / "greeter"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text("def handler(event, context):\n    return 'v1'\n")
    (app / "template.yaml").write_text(
        textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Greeter:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
    """)
    )
    stack = sb.template_stacks.deploy(app / "template.yaml", "greeter")
    name = stack.resource("Greeter").physical_id
    assert sb.invoke({}, name).result == "v1"
    # (a different length: Python's cached bytecode is checked by the source's size and mtime in seconds)
    (app / "src" / "app.py").write_text("def handler(event, context):\n    return 'version 2'\n")
    eventually(
        lambda: sb.invoke({}, name).result,
        lambda result: result == "version 2",
        what="the next invocation to run the saved code",
        interval=0.3,
    )


def test_a_stack_imports_what_another_exports(sb, tmp_path):
    (tmp_path / "exporter.yaml").write_text(
        textwrap.dedent("""\
        Resources:
          Jobs:
            Type: AWS::SQS::Queue
        Outputs:
          JobsArn:
            Value: !GetAtt Jobs.Arn
            Export:
              Name: shared-jobs-arn
    """)
    )
    (tmp_path / "importer.yaml").write_text(
        textwrap.dedent("""\
        Resources:
          Retries:
            Type: AWS::SQS::Queue
            Properties:
              RedrivePolicy:
                deadLetterTargetArn: !ImportValue shared-jobs-arn
                maxReceiveCount: 2
    """)
    )
    exporter = sb.template_stacks.deploy(tmp_path / "exporter.yaml", "exporter")
    importer = sb.template_stacks.deploy(tmp_path / "importer.yaml", "importer")
    attributes = sb.sqs.get_queue_attributes(
        QueueUrl=importer.resource("Retries").physical_id, AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == exporter.output("JobsArn")


@pytest.mark.slow
def test_run_local_with_the_template_prints_its_functions_triggers_and_outputs_as_local_urls():
    text = run_local_banner("--template", "template.yaml")
    assert "<- S3 s3://source-image-bucket123 (s3:ObjectCreated:*)" in text
    assert re.search(r"ImagesApiUrl\s*: http://[a-z0-9]+\.execute-api\.localhost:\d+/images", text), text


@pytest.mark.slow
def test_a_template_the_sandbox_cant_run_stops_run_local_with_one_message_naming_it(tmp_path):
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Machine:
            Type: AWS::Serverless::StateMachine
            Properties:
              Definition: {StartAt: Done, States: {Done: {Type: Succeed}}}
    """)
    )
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "run_local.py"),
            "--template",
            str(tmp_path / "template.yaml"),
            "--port",
            "0",
            "--no-web",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "nothing was created" in result.stderr
    assert (
        "line 3: Machine (AWS::Serverless::StateMachine -> AWS::StepFunctions::StateMachine): "
        "Step Functions state machines are not run by the sandbox" in result.stderr
    )
    assert "Traceback" not in result.stderr and "ready in" not in result.stdout


def test_schedule_v2_and_http_api_events_with_path_parameters_run_their_function(sb, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200, "
        "'body': (event.get('pathParameters') or {}).get('id', 'none')}\n"
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Items:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
                GetItem:
                  Type: HttpApi
                  Properties:
                    Path: /items/{id}
                    Method: get
                Hourly:
                  Type: ScheduleV2
                  Properties:
                    ScheduleExpression: rate(1 hour)
        Outputs:
          ItemsUrl:
            Value: !Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/items
    """)
    )
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", "items")
    name = stack.resource("Items").physical_id
    request = urllib.request.Request(
        f"{sb.endpoint_url}/_aws/execute-api/{stack.resource('ServerlessHttpApi').physical_id}/items/42"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.read() == b"42"
    assert stack.output("ItemsUrl").startswith("http://")
    schedule = stack.resource("ItemsHourly").physical_id
    sb.fire_rule(schedule, kind="schedule", group="default")
    record = wait_for_record(
        sb,
        lambda r: r.function_name == name and r.final and r.trigger == "schedule",
        what="the schedule's invocation",
    )
    assert record.status == "success" and record.event["source"] == "aws.scheduler"
