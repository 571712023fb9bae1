"""Templates without a sandbox: intrinsic functions resolved as CloudFormation resolves them, parameters,
what is refused by name before anything starts, the tools' own error messages, the order and names of
resources, the stand-in for `sam build`, and cfn-lint on the project's and the public templates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from helpers.paths import PROJECT_ROOT, SAM_APPS
from sandbox.sam.intrinsics import NO_VALUE, Resolver, TemplateError, Unresolved
from sandbox.sam.plan import TemplateNotRunnable
from sandbox.sam.resources import Created, generated_name
from sandbox.sam.stack import TemplateStack, local_urls
from sandbox.sam.template import expand, parse_parameter_overrides


def resolver(parameters=None, conditions=None, mappings=None, created=None) -> Resolver:
    created = {} if created is None else created

    def value(name, attribute):
        if name not in created:
            raise Unresolved(name)
        return created[name].ref if attribute is None else created[name].attributes[attribute]

    return Resolver(
        parameters=parameters or {},
        pseudo={
            "AWS::Region": "eu-west-1",
            "AWS::AccountId": "123456789012",
            "AWS::StackName": "app",
            "AWS::URLSuffix": "amazonaws.com",
        },
        conditions=conditions or {},
        mappings=mappings or {},
        resource_value=value,
        is_resource=lambda name: name in ("Queue", "Fn"),
        region="eu-west-1",
    )


def stack_from(tmp_path: Path, body: str, **options) -> TemplateStack:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body))
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    return TemplateStack.from_file(path, **options)


SAM_HEADER = """\
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Resources:
"""
FUNCTION = """\
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/
          Handler: app.handler
          Runtime: python3.12
"""


# -- intrinsic functions -------------------------------------------------------------------------------
def test_sub_fills_parameters_pseudo_parameters_and_attributes_and_keeps_escaped_literals():
    queue = Created("q-url", "q-url", {"Arn": "arn:aws:sqs:eu-west-1:123456789012:q"})
    r = resolver({"Stage": "dev"}, created={"Queue": queue})
    assert (
        r.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Queue.Arn}-${!Literal}"})
        == "app-dev-arn:aws:sqs:eu-west-1:123456789012:q-${Literal}"
    )
    assert r.resolve({"Fn::Sub": ["${A}/${Queue}", {"A": {"Ref": "AWS::Region"}}]}) == "eu-west-1/q-url"


def test_join_select_split_find_in_map_base64_and_get_azs_resolve_as_cloudformation_does():
    r = resolver({"Names": ["a", "b", "c"]}, mappings={"Sizes": {"dev": {"Memory": 256}}})
    assert r.resolve({"Fn::Join": ["-", [{"Ref": "AWS::Region"}, "x", 3]]}) == "eu-west-1-x-3"
    assert r.resolve({"Fn::Select": ["1", {"Ref": "Names"}]}) == "b"
    assert r.resolve({"Fn::Select": [0, {"Fn::Split": [",", "p,q"]}]}) == "p"
    assert r.resolve({"Fn::FindInMap": ["Sizes", "dev", "Memory"]}) == 256
    assert r.resolve({"Fn::Base64": "hi"}) == "aGk="
    assert r.resolve({"Fn::GetAZs": ""})[:2] == ["eu-west-1a", "eu-west-1b"]


def test_if_picks_the_branch_its_condition_chooses_and_no_value_removes_the_property():
    conditions = {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Both": {"Fn::And": [{"Condition": "NotProd"}, {"Fn::Or": [True, {"Condition": "IsProd"}]}]},
    }
    r = resolver({"Stage": "dev"}, conditions)
    props = {
        "MemorySize": {"Fn::If": ["IsProd", 1024, 128]},
        "Tracing": {"Fn::If": ["IsProd", "Active", {"Ref": "AWS::NoValue"}]},
        "Layers": ["a", {"Fn::If": ["Both", {"Ref": "AWS::NoValue"}, "b"]}],
    }
    assert r.resolve(props) == {"MemorySize": 128, "Layers": ["a"]}
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_a_reference_to_a_resource_not_created_yet_stays_as_written_until_it_exists():
    created = {}
    r = resolver(created=created)
    props = {
        "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
        "Name": {"Fn::Sub": "${Queue}-x"},
        "Region": {"Ref": "AWS::Region"},
    }
    assert r.resolve(props, partial=True) == {
        "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
        "Name": {"Fn::Sub": "${Queue}-x"},
        "Region": "eu-west-1",
    }
    with pytest.raises(Unresolved):
        r.resolve(props)
    created["Queue"] = Created("u", "u", {"Arn": "arn"})
    assert r.resolve(props) == {"Arn": "arn", "Name": "u-x", "Region": "eu-west-1"}


def test_references_to_unknown_names_are_cloudformations_template_errors():
    with pytest.raises(TemplateError, match=r"Unresolved resource dependencies \[Nope\]"):
        resolver().resolve({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="Fn::Select cannot select nonexistent value at index 5"):
        resolver().resolve({"Fn::Select": [5, ["a"]]})


def test_aws_api_urls_in_outputs_become_the_sandboxs_urls():
    assert (
        local_urls("https://abc123.execute-api.us-east-1.amazonaws.com/Prod/hello/", 4566)
        == "http://abc123.execute-api.localhost:4566/Prod/hello/"
    )
    assert (
        local_urls("arn:aws:lambda:us-east-1:123456789012:function:f", 4566)
        == "arn:aws:lambda:us-east-1:123456789012:function:f"
    )


# -- parameters ----------------------------------------------------------------------------------------
def test_parameter_overrides_take_both_forms_sam_deploy_takes():
    assert parse_parameter_overrides(
        ["Stage=prod Name=a=b", "ParameterKey=Bucket,ParameterValue=my-bucket"]
    ) == {"Stage": "prod", "Name": "a=b", "Bucket": "my-bucket"}
    with pytest.raises(TemplateError, match="takes Key=Value"):
        parse_parameter_overrides(["oops"])


def test_parameters_are_checked_as_cloudformation_checks_them(tmp_path):
    body = (
        SAM_HEADER
        + """\
      Queue:
        Type: AWS::SQS::Queue
    Parameters:
      Stage:
        Type: String
        AllowedValues: [dev, prod]
      Bucket:
        Type: String
    """
    )
    with pytest.raises(TemplateError, match=r"Parameters: \[Bucket\] must have values"):
        stack_from(tmp_path, body, parameter_overrides={"Stage": "dev"})
    with pytest.raises(TemplateError, match="Parameter 'Stage' must be one of AllowedValues"):
        stack_from(tmp_path, body, parameter_overrides={"Stage": "test", "Bucket": "b"})
    with pytest.raises(TemplateError, match=r"Parameters: \[Other\] do not exist in the template"):
        stack_from(tmp_path, body, parameter_overrides={"Stage": "dev", "Bucket": "b", "Other": "x"})


# -- what the sandbox can't run, refused by name before anything starts ---------------------------------
def test_an_unsupported_event_is_refused_naming_the_function_the_resource_it_makes_and_the_line(tmp_path):
    with pytest.raises(TemplateNotRunnable) as refused:
        stack_from(
            tmp_path,
            SAM_HEADER
            + """\
      Stream:
        Type: AWS::Kinesis::Stream
        Properties:
          ShardCount: 1
"""
            + FUNCTION
            + """\
          Events:
            Clicks:
              Type: Kinesis
              Properties:
                Stream: !GetAtt Stream.Arn
                StartingPosition: LATEST
    """,
        )
    message = str(refused.value)
    assert "nothing was created" in message
    assert (
        "line 4: Stream (AWS::Kinesis::Stream): Kinesis streams are not part of the local endpoint" in message
    )
    assert (
        "line 8: Fn (AWS::Serverless::Function) makes FnClicks (AWS::Lambda::EventSourceMapping)" in message
    )


def test_unsupported_properties_runtimes_and_integrations_are_each_refused_by_name(tmp_path):
    with pytest.raises(TemplateNotRunnable) as refused:
        stack_from(
            tmp_path,
            SAM_HEADER
            + """\
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: Prod
          Cors: "'*'"
      Node:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/
          Handler: app.handler
          Runtime: java21
          FileSystemConfigs:
            - Arn: arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1
              LocalMountPath: /mnt/efs
          Events:
            Get:
              Type: Api
              Properties:
                RestApiId: !Ref Api
                Path: /
                Method: get
    """,
        )
    problems = {str(p) for p in refused.value.problems}
    assert any("Runtime java21: the sandbox runs python3.x, nodejs18.x" in p for p in problems)
    assert any("property FileSystemConfigs is not run by the sandbox" in p for p in problems)
    assert any("Body.paths./.options: MOCK integration" in p and "SAM's Cors" in p for p in problems)


@pytest.mark.parametrize(
    "runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x", "provided.al2023", "provided.al2"]
)
def test_node_and_custom_runtimes_are_accepted_in_a_template(tmp_path, runtime):
    stack = stack_from(tmp_path, SAM_HEADER + FUNCTION.replace("python3.12", runtime))
    assert not any("Runtime" in note for note in stack.plan.notes)


def test_the_node_resize_examples_template_is_runnable():
    stack = TemplateStack.from_file(PROJECT_ROOT / "examples" / "node-resize" / "template.yaml")
    assert not any("Runtime" in note for note in stack.plan.notes)


def test_a_property_with_no_local_effect_is_noted_not_refused(tmp_path):
    stack = stack_from(
        tmp_path,
        SAM_HEADER
        + FUNCTION
        + """\
          Tracing: Active
    """,
    )
    assert any("TracingConfig: X-Ray traces are not collected" in note for note in stack.plan.notes)


def test_a_yaml_error_is_cfn_lints_message_with_its_line(tmp_path):
    with pytest.raises(TemplateError, match=r"template.yaml:6: did not find expected .*\[cfn-lint E0000\]"):
        stack_from(
            tmp_path,
            SAM_HEADER
            + """\
      Fn:
        Type: [AWS::Serverless::Function
    """,
        )


def test_a_template_the_sam_transform_refuses_gives_the_translators_message_with_the_line(tmp_path):
    with pytest.raises(TemplateError) as refused:
        stack_from(
            tmp_path,
            SAM_HEADER
            + """\
      Queue:
        Type: AWS::SQS::Queue
"""
            + FUNCTION
            + """\
          Events:
            Messages:
              Type: SQS
              Properties:
                BatchSize: 5
    """,
        )
    message = str(refused.value)
    assert "(aws-sam-translator)" in message
    assert (
        "template.yaml:6: Resource with id [FnMessages] is invalid. Missing required property 'Queue'."
        in message
    )


# -- order and names -----------------------------------------------------------------------------------
def test_resources_are_created_after_what_they_refer_to_and_cycles_are_named(tmp_path):
    stack = stack_from(
        tmp_path,
        SAM_HEADER
        + """\
      Consumer:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/
          Handler: app.handler
          Runtime: python3.12
          Environment:
            Variables:
              QUEUE: !Ref Queue
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          RedrivePolicy:
            deadLetterTargetArn: !GetAtt Dlq.Arn
            maxReceiveCount: 3
      Dlq:
        Type: AWS::SQS::Queue
    """,
    )
    order = stack.plan.order
    assert order.index("Dlq") < order.index("Queue") < order.index("Consumer")
    assert order.index("ConsumerRole") < order.index("Consumer")
    with pytest.raises(TemplateError, match=r"Circular dependency between resources: \[A, B\]"):
        stack_from(
            tmp_path,
            SAM_HEADER
            + """\
      A:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !GetAtt B.QueueName
      B:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !GetAtt A.QueueName
    """,
        )


def test_unnamed_resources_get_cloudformations_stack_logical_id_random_names():
    name = generated_name("sam-app", "HelloWorldFunction")
    assert name.startswith("sam-app-HelloWorldFunction-") and len(name.rsplit("-", 1)[1]) == 12
    bucket = generated_name("My-App", "AppBucket", 63, lowercase=True)
    assert bucket == bucket.lower() and bucket.startswith("my-app-appbucket-")
    assert len(generated_name("s" * 80, "L" * 80, 64)) <= 64


def test_a_function_without_code_uri_runs_from_the_templates_folder_as_sam_cli_reads_it(tmp_path):
    stack = stack_from(
        tmp_path,
        SAM_HEADER
        + """\
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: src/app.handler
          Runtime: python3.12
    """,
    )
    assert list(stack.template.local_code.values()) == [tmp_path.resolve()]


# -- the stand-in for `sam build` ----------------------------------------------------------------------
def test_requirements_are_stood_in_for_by_the_packages_installed_next_to_the_sandbox(tmp_path):
    from sandbox.sam.build import stage_layer, stage_requirements

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# a comment\ntqdm>=4\nboto3\nno-such-package-anywhere==1.0\n--index-url https://x\n"
    )
    staged, missing = stage_requirements(requirements, tmp_path / "build")
    assert (staged / "python" / "tqdm").is_dir()
    assert not (staged / "python" / "boto3").exists()  # the runtime has it
    assert missing == ["no-such-package-anywhere"]
    (tmp_path / "helpers.py").write_text("X = 1\n")
    dirs, _ = stage_layer(tmp_path, "python3.12", tmp_path / "layer")
    assert (dirs[0] / "python" / "helpers.py").read_text() == "X = 1\n"
    assert (dirs[1] / "python" / "tqdm").is_dir()


# -- cfn-lint ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "template",
    [PROJECT_ROOT / "template.yaml"] + sorted(SAM_APPS.glob("*/template.yaml")),
    ids=lambda p: str(p.relative_to(PROJECT_ROOT)),
)
def test_template_passes_cfn_lint(template):
    from cfnlint import api

    assert [str(match) for match in api.lint_file(template)] == []


def test_cloudformation_api_reads_member_lists_and_asks_for_iam_capabilities():
    from sandbox.sam.cloudformation import _capabilities_needed, _members

    form = {
        "Parameters.member.1.ParameterKey": "A",
        "Parameters.member.1.ParameterValue": "1",
        "Parameters.member.2.ParameterKey": "B",
        "Capabilities.member.1": "CAPABILITY_IAM",
    }
    assert _members(form, "Parameters") == [
        {"ParameterKey": "A", "ParameterValue": "1"},
        {"ParameterKey": "B"},
    ]
    assert _members(form, "Capabilities") == ["CAPABILITY_IAM"]
    expanded = expand(
        textwrap.dedent(
            SAM_HEADER
            + """\
      Role:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument: {}
    """
        ),
        local_code=False,
    ).expanded
    assert _capabilities_needed(expanded) == ["CAPABILITY_IAM"]
    expanded["Resources"]["Role"]["Properties"]["RoleName"] = "named"
    assert _capabilities_needed(expanded) == ["CAPABILITY_NAMED_IAM"]
