"""`aws cloudformation package` / `deploy` / `delete-stack` against the sandbox, as a team's deploy script
runs them against AWS (what samlocal and LocalStack users do): the real AWS CLI, templates from
tests/sam_apps/, the apps then driven through their triggers. Also CloudFormation's own checks and
answers (capabilities, no changes, a failed resource rolled back) and a plain CloudFormation template."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_cli
from helpers.paths import SAM_APPS
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record

pytestmark = pytest.mark.slow
APPS = SAM_APPS
ARTIFACTS = "deploy-artifacts"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    sandbox.s3.create_bucket(Bucket=ARTIFACTS)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def aws(sb):
    return aws_cli(sb)


def package(aws, app: Path) -> Path:
    packaged = app / "packaged.yaml"
    result = aws(
        "cloudformation",
        "package",
        "--template-file",
        "template.yaml",
        "--s3-bucket",
        ARTIFACTS,
        "--output-template-file",
        str(packaged),
        cwd=app,
    )
    assert result.returncode == 0, result.stderr
    assert "CodeUri: s3://deploy-artifacts/" in packaged.read_text()
    return packaged


def function_of(sb, stack: str, logical_id: str) -> str:
    return sb.client("cloudformation").describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]


def test_a_deploy_script_creates_updates_and_deletes_a_sam_app_in_the_sandbox(sb, aws, tmp_path):
    app = Path(shutil.copytree(APPS / "sqs-payload-logger", tmp_path / "app"))
    deployed = aws(
        "cloudformation",
        "deploy",
        "--template-file",
        str(package(aws, app)),
        "--stack-name",
        "sqs-app",
        "--capabilities",
        "CAPABILITY_IAM",
    )
    assert deployed.returncode == 0, deployed.stderr
    assert "Successfully created/updated stack - sqs-app" in deployed.stdout
    cfn = sb.client("cloudformation")
    assert cfn.describe_stacks(StackName="sqs-app")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    queue, function = (
        function_of(sb, "sqs-app", "SimpleQueue"),
        function_of(sb, "sqs-app", "SQSPayloadLogger"),
    )
    sb.sqs.send_message(QueueUrl=queue, MessageBody="first")
    record = wait_for_record(sb, lambda r: r.function_name == function and r.final, what="the first message")
    assert record.status == "success" and record.event["Records"][0]["body"] == "first"

    handler = app / "src" / "handlers" / "sqs_payload_logger.py"
    handler.write_text(
        handler.read_text().replace('"body": record["body"]', '"body": record["body"], "v": 2')
    )
    updated = aws(
        "cloudformation",
        "deploy",
        "--template-file",
        str(package(aws, app)),
        "--stack-name",
        "sqs-app",
        "--capabilities",
        "CAPABILITY_IAM",
    )
    assert updated.returncode == 0, updated.stderr
    assert cfn.describe_stacks(StackName="sqs-app")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert function_of(sb, "sqs-app", "SQSPayloadLogger") == function  # updated in place
    sb.sqs.send_message(QueueUrl=queue, MessageBody="second")
    record = wait_for_record(
        sb,
        lambda r: r.function_name == function and r.final and "second" in json.dumps(r.event),
        what="the second message",
    )
    assert any('"v": 2' in e.message for e in sb.log_events(request_id=record.request_id))

    again = aws(
        "cloudformation",
        "deploy",
        "--template-file",
        str(app / "packaged.yaml"),
        "--stack-name",
        "sqs-app",
        "--capabilities",
        "CAPABILITY_IAM",
    )
    assert again.returncode != 0 and "No changes to deploy. Stack sqs-app is up to date" in again.stderr

    assert aws("cloudformation", "delete-stack", "--stack-name", "sqs-app").returncode == 0
    assert aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "sqs-app").returncode == 0
    with pytest.raises(ClientError, match="ResourceNotFoundException|Function not found"):
        sb.client("lambda").get_function(FunctionName=function)


def test_deploying_iam_resources_without_the_capability_is_refused_as_on_aws(sb, aws, tmp_path):
    app = Path(shutil.copytree(APPS / "scheduled-event-logger", tmp_path / "app"))
    result = aws(
        "cloudformation", "deploy", "--template-file", str(package(aws, app)), "--stack-name", "no-caps"
    )
    assert result.returncode != 0
    assert (
        "InsufficientCapabilitiesException" in result.stderr
        and "Requires capabilities : [CAPABILITY_IAM]" in result.stderr
    )


def test_describe_stacks_gives_outputs_as_local_urls_that_serve_the_app(sb, aws, tmp_path):
    app = Path(shutil.copytree(APPS / "web-backend", tmp_path / "app"))
    deployed = aws(
        "cloudformation",
        "deploy",
        "--template-file",
        str(package(aws, app)),
        "--stack-name",
        "web",
        "--capabilities",
        "CAPABILITY_IAM",
    )
    assert deployed.returncode == 0, deployed.stderr
    described = aws(
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        "web",
        "--query",
        "Stacks[0].Outputs[?OutputKey=='WebEndpoint'].OutputValue",
        "--output",
        "text",
    )
    url = described.stdout.strip()
    found = re.fullmatch(rf"http://([a-z0-9]+)\.execute-api\.localhost:{sb.endpoint.port}/Prod/", url)
    assert found, url
    import urllib.request

    call = urllib.request.Request(
        f"{sb.endpoint_url}/_aws/execute-api/{found.group(1)}/Prod/",
        method="POST",
        data=json.dumps({"id": "1", "name": "deployed"}).encode(),
    )
    with urllib.request.urlopen(call, timeout=30) as answer:
        assert json.loads(answer.read()) == {"id": "1", "name": "deployed"}


def test_a_template_with_local_code_fails_its_change_set_with_the_sam_translators_message(sb, aws):
    result = aws(
        "cloudformation",
        "deploy",
        "--template-file",
        str(APPS / "hello-world" / "template.yaml"),
        "--stack-name",
        "unpackaged",
        "--capabilities",
        "CAPABILITY_IAM",
    )
    assert result.returncode != 0
    assert "Status: FAILED" in result.stderr and "is not a valid S3 Uri" in result.stderr


PLAIN = textwrap.dedent("""\
    AWSTemplateFormatVersion: '2010-09-09'
    Parameters:
      Greeting:
        Type: String
        Default: hello
    Resources:
      Role:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Principal: {Service: lambda.amazonaws.com}
                Action: sts:AssumeRole
      Greeter:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: python3.12
          Handler: index.handler
          Role: !GetAtt Role.Arn
          Environment:
            Variables:
              GREETING: !Join [", ", [!Ref Greeting, !Ref "AWS::StackName"]]
          Code:
            ZipFile: |
              import os
              def handler(event, context):
                  return os.environ["GREETING"]
    Outputs:
      GreeterArn:
        Value: !GetAtt Greeter.Arn
""")


def test_create_stack_runs_a_plain_cloudformation_template_with_inline_code(sb):
    cfn = sb.client("cloudformation")
    cfn.create_stack(
        StackName="plain",
        TemplateBody=PLAIN,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hi"}],
    )
    stack = cfn.describe_stacks(StackName="plain")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    arn = stack["Outputs"][0]["OutputValue"]
    answer = sb.client("lambda").invoke(FunctionName=arn)
    assert json.loads(answer["Payload"].read()) == "hi, plain"


def test_a_resource_that_fails_rolls_the_stack_back_with_the_apis_reason(sb):
    cfn = sb.client("cloudformation")
    broken = PLAIN.replace("Role: !GetAtt Role.Arn", "Role: arn:aws:iam::123456789012:role/does-not-exist")
    cfn.create_stack(StackName="broken", TemplateBody=broken, Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName="broken")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="broken")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Greeter"] and failed[0]["ResourceStatusReason"]
    assert any(e["LogicalResourceId"] == "Role" and e["ResourceStatus"] == "DELETE_COMPLETE" for e in events)
