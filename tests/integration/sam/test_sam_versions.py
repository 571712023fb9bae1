"""SAM's AutoPublishAlias in a template: the translator's AWS::Lambda::Version and AWS::Lambda::Alias are
published and created through Lambda's API, the template's SQS event (a mapping to the alias) and the
alias's function URL run the alias's version, and DeploymentPreference is noted, not run."""

import json

import pytest

from helpers.function_urls import call
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import wait_for_record

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
      FunctionUrlConfig:
        AuthType: NONE
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
  Work:
    Type: AWS::SQS::Queue
Outputs:
  AliasUrl:
    Value: !GetAtt GreeterUrl.FunctionUrl
"""


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults")
    yield sandbox
    sandbox.stop()


def test_auto_publish_alias_runs_the_published_version_from_the_queue_and_the_url(sb, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n"
        "    said = context.function_version + ' ' + context.invoked_function_arn\n"
        "    return {'statusCode': 200, 'body': said}\n"
    )
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", stack_name="alias-app")
    try:
        lam = sb.client("lambda")
        name = next(
            f["FunctionName"] for f in lam.list_functions()["Functions"] if "Greeter" in f["FunctionName"]
        )
        (alias,) = lam.list_aliases(FunctionName=name)["Aliases"]
        assert (alias["Name"], alias["FunctionVersion"]) == ("live", "1")
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == [
            "$LATEST",
            "1",
        ]
        notes = " ".join(stack.describe()["notes"])
        assert "DeploymentPreference" in notes and "at once" in notes

        queue = sb.client("sqs").get_queue_url(QueueName=next(q for q in _queues(sb) if "Work" in q))[
            "QueueUrl"
        ]
        sb.client("sqs").send_message(QueueUrl=queue, MessageBody="hello")
        record = wait_for_record(
            sb,
            lambda r: r.function_name == name and r.trigger == "sqs" and r.final,
            what="the queue's invocation",
        )
        assert (record.qualifier, record.executed_version) == ("live", "1")
        assert record.result["body"] == f"1 {alias['AliasArn']}"

        url = next(o["value"] for o in stack.outputs if o["key"] == "AliasUrl")
        status, _, body = call(sb, {"FunctionUrl": url})
        assert (status, body.decode()) == (200, f"1 {alias['AliasArn']}")
    finally:
        stack.delete(sb)


def _queues(sb) -> list[str]:
    return [u.rsplit("/", 1)[-1] for u in sb.client("sqs").list_queues().get("QueueUrls", [])]


def test_a_cloudformation_version_and_alias_in_a_plain_template_run_the_published_code(sb, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n    return context.function_version\n"
    )
    (tmp_path / "template.yaml").write_text(
        """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return context.function_version
  One:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Fn
  Two:
    Type: AWS::Lambda::Version
    DependsOn: One
    Properties:
      FunctionName: !Ref Fn
      Description: the same code, published again only if it changed
  Blue:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Fn
      FunctionVersion: !GetAtt One.Version
      Name: blue
"""
    )
    stack = sb.template_stacks.deploy(tmp_path / "template.yaml", stack_name="plain-alias")
    try:
        lam = sb.client("lambda")
        name = next(
            f["FunctionName"] for f in lam.list_functions()["Functions"] if "-Fn-" in f["FunctionName"]
        )
        response = lam.invoke(FunctionName=name, Qualifier="blue")
        assert response["ExecutedVersion"] == "1" and json.loads(response["Payload"].read()) == "1"
    finally:
        stack.delete(sb)
