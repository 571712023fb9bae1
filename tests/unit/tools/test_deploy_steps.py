"""The deploy and destroy steps as units: fake boto3 clients, a fake clock and fake packages go into the
constructors, so AWS-only paths (IAM's eventual consistency, a bucket name taken by another account, a role
shared with another function) run here without AWS and without waiting."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from sandbox.config import GUIDE_MANAGED_POLICY_ARNS
from sandbox.tools.deploy import Call, DeployError, Deployment, DeployOptions, DeployReport, Teardown
from sandbox.tools.deploy.api import RETRY_DELAY_S, Api
from sandbox.tools.deploy.printer import Printer


def aws_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


class FakeClient:
    """A boto3 client answering from a script: method -> one answer, or a list of answers given in turn (the
    last one repeats); an answer that is an exception is raised. Unscripted methods answer {}."""

    def __init__(self, **script):
        self.meta = SimpleNamespace(region_name="us-east-1", endpoint_url=None)
        self._script = {
            method: answers if isinstance(answers, list) else [answers] for method, answers in script.items()
        }
        self.made: list[str] = []

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(**params):
            self.made.append(method)
            answers = self._script.get(method) or [{}]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if isinstance(answer, Exception):
                raise answer
            return copy.deepcopy(answer)

        return call


class FakePackages:
    """The zips, without building anything."""

    def __init__(self, folder: Path):
        self.function = folder / "function.zip"
        self.function.write_bytes(b"PK fake function zip")

    def function_zip(self) -> Path:
        return self.function

    def layer_zip(self):
        return None, []

    def layer_description(self, layer_zip: Path) -> str:
        return f"Pillow, from {layer_zip.name}"


def make(cls, clients: dict, target: str = "aws", tmp_path: Path | None = None, **options):
    """A Deployment or Teardown with fake collaborators; returns it, what it printed and the delays it
    slept."""
    options = DeployOptions(**options)
    report = DeployReport(cls.action, target, "us-east-1", "111122223333", options.dry_run)
    out, sleeps = io.StringIO(), []
    printer = Printer(out, options.dry_run)
    api = Api(clients.__getitem__, report, printer, options.verbose, sleep=sleeps.append)
    extra = {"packages": FakePackages(tmp_path)} if cls is Deployment else {}
    return cls(options, api, printer, report, "AWS", **extra), out, sleeps


def test_create_function_is_retried_while_a_new_role_cannot_be_assumed_and_recorded_once(tmp_path):
    not_yet = aws_error(
        "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."
    )
    lam = FakeClient(
        get_function=aws_error("ResourceNotFoundException"),
        create_function=[not_yet, not_yet, not_yet, {"FunctionArn": "arn:fn", "State": "Active"}],
    )
    run, _, sleeps = make(Deployment, {"lambda": lam}, tmp_path=tmp_path)

    configuration = run.step_function("arn:role", True, tmp_path / "function.zip")

    assert configuration["FunctionArn"] == "arn:fn"
    assert lam.made.count("create_function") == 4
    assert run.report.operations() == ["CreateFunction"]
    assert sleeps == [RETRY_DELAY_S] * 3
    assert run.report.step(2).outcome.startswith("created")


def test_a_role_that_exists_already_is_not_waited_for(tmp_path):
    refused = aws_error(
        "InvalidParameterValueException", "The role defined for the function cannot be assumed"
    )
    lam = FakeClient(get_function=aws_error("ResourceNotFoundException"), create_function=refused)
    run, out, sleeps = make(Deployment, {"lambda": lam}, tmp_path=tmp_path)

    with pytest.raises(DeployError) as info:
        run.step_function("arn:role", False, tmp_path / "function.zip")

    assert info.value.code == "InvalidParameterValueException"
    assert sleeps == [] and lam.made.count("create_function") == 1
    assert "Step 2/4  Lambda function ImageResizeLambda ... failed" in out.getvalue()


def test_managed_policy_unknown_to_a_local_endpoint_is_a_note_not_a_call(tmp_path):
    iam = FakeClient(
        get_role=aws_error("NoSuchEntity"),
        create_role={"Role": {"Arn": "arn:role"}},
        attach_role_policy=aws_error("NoSuchEntity", "Policy does not exist"),
    )
    run, out, _ = make(Deployment, {"iam": iam}, target="endpoint", tmp_path=tmp_path)

    run.step_role("111122223333")

    assert run.report.operations() == ["CreateRole"]
    assert "not attached here, see the note" in run.report.step(1).outcome
    assert (
        "no copy of the AWS managed policies AmazonS3FullAccess + AWSLambdaBasicExecutionRole"
        in out.getvalue()
    )


def test_managed_policy_unknown_to_aws_stops_the_deploy(tmp_path):
    iam = FakeClient(
        get_role=aws_error("NoSuchEntity"),
        create_role={"Role": {"Arn": "arn:role"}},
        attach_role_policy=aws_error("NoSuchEntity", "Policy does not exist"),
    )
    run, _, _ = make(Deployment, {"iam": iam}, target="aws", tmp_path=tmp_path)

    with pytest.raises(DeployError, match="iam:AttachRolePolicy failed: NoSuchEntity"):
        run.step_role("111122223333")


def test_a_bucket_name_owned_by_another_account_is_one_sentence(tmp_path):
    s3 = FakeClient(head_bucket=aws_error("403", "Forbidden"))
    run, _, _ = make(Deployment, {"s3": s3}, tmp_path=tmp_path)

    with pytest.raises(DeployError) as info:
        run.step_trigger("arn:fn", "111122223333")

    assert info.value.code == "BucketNameTaken"
    assert "choose another with --source-bucket / --destination-bucket" in str(info.value)
    assert s3.made == ["head_bucket"]


def test_notification_is_retried_until_s3_sees_the_new_permission(tmp_path):
    not_yet = aws_error("InvalidArgument", "Unable to validate the following destination configurations")
    s3 = FakeClient(put_bucket_notification_configuration=[not_yet, not_yet, {}])
    lam = FakeClient(get_policy=aws_error("ResourceNotFoundException"))
    run, _, sleeps = make(Deployment, {"s3": s3, "lambda": lam}, tmp_path=tmp_path)

    run.step_trigger("arn:aws:lambda:us-east-1:111122223333:function:ImageResizeLambda", "111122223333")

    assert run.report.operations("s3") == ["PutBucketNotificationConfiguration"]
    assert sleeps == [RETRY_DELAY_S] * 2
    assert (
        run.report.step(4).outcome
        == "buckets exist, invoke permission added, notification s3:ObjectCreated:* added"
    )


def test_destroy_keeps_a_role_that_another_function_still_uses(tmp_path):
    iam = FakeClient(get_role={"Role": {"Arn": "arn:role"}})
    lam = FakeClient(
        list_functions=[
            {
                "Functions": [{"FunctionName": "ImageResizeLambda", "Role": "arn:role"}],
                "NextMarker": "page-2",
            },
            {"Functions": [{"FunctionName": "Thumbnailer", "Role": "arn:role"}]},
        ]
    )
    run, _, _ = make(Teardown, {"iam": iam, "lambda": lam})

    with run.printer.step(run.report, 1, "IAM role") as step:
        step.outcome = run.remove_role(step)

    assert step.outcome == "kept (still used by Thumbnailer)"
    assert "ImageResizeLambdaRole is still the execution role of Thumbnailer" in step.notes[0]
    assert run.report.operations() == []


def test_destroy_dry_run_lists_the_calls_for_both_managed_policies():
    run, out, _ = make(Teardown, {}, dry_run=True)

    with run.printer.step(run.report, 1, "IAM role") as step:
        step.outcome = run.remove_role(step)

    detached = [c.params["PolicyArn"] for c in run.report.calls if c.operation == "DetachRolePolicy"]
    assert tuple(detached) == GUIDE_MANAGED_POLICY_ARNS
    assert run.report.operations()[-1] == "DeleteRole"
    assert "(dry run) would call:" in out.getvalue()


def test_withdrawn_call_leaves_an_equal_earlier_call_in_the_report():
    report = DeployReport("deploy", "aws", "us-east-1", None, False)
    first, again = (
        Call("lambda", "AddPermission", {"Sid": "s"}),
        Call("lambda", "AddPermission", {"Sid": "s"}),
    )
    report.record(first)
    report.record(again)

    report.withdraw(again)

    assert len(report.calls) == 1 and report.calls[0] is first
