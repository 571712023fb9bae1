"""`run_local.py deploy` / `destroy`: the guide's four steps with boto3, rehearsed against a real sandbox.

No test reaches AWS: the sandbox tests talk to a real local endpoint (moto over HTTP on a free port, with the
sandbox running deployed functions in real worker processes); the AWS-target tests stop before any call.
The Pillow layer is the real local twin, downloaded from PyPI once per module (pip caches it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from helpers.paths import PROJECT_ROOT
from sandbox.cli import deploy_commands
from sandbox.tools.deploy import DeployError, DeployOptions, deploy, destroy
from sandbox.tools.deploy.trigger_rules import configurations_overlap

SAMPLES = PROJECT_ROOT / "sample_images"

# Not the guide's names: the sandbox already runs ImageResizeLambda with its role and trigger.
FUNCTION = "ImageResizeLambdaDeployed"
ROLE = "ImageResizeLambdaDeployedRole"
SOURCE = "deploy-source-bucket"
DESTINATION = "deploy-resized-bucket"
NAMES = dict(function_name=FUNCTION, role_name=ROLE, source_bucket=SOURCE, destination_bucket=DESTINATION)
MANAGED = {
    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
}


@pytest.fixture(scope="module")
def sandbox():
    """One sandbox for the module (moto's state is per process). moto knows AWS's managed policies only
    when MOTO_IAM_LOAD_MANAGED_POLICIES is set as its IAM backend is created, i.e. during start."""
    from sandbox.config import SandboxConfig
    from sandbox.core import Sandbox

    previous = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    try:
        sb = Sandbox(SandboxConfig(port=0, web_port=None)).start()
    finally:
        if previous is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = previous
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    """function.zip from handler/ and the local twin Pillow layer, as `run_local.py package --local` makes."""
    from sandbox.lambda_.packaging import PackagingError, build_function_zip, build_pillow_layer

    folder = tmp_path_factory.mktemp("deploy-build")
    build_function_zip(PROJECT_ROOT / "handler", folder / "function.zip")
    try:
        layer = build_pillow_layer(folder / "pillow-layer-local.zip", local=True)
    except PackagingError as exc:
        if "Could not reach the package index" in str(exc):
            pytest.skip(str(exc))
        raise
    assert layer.ok, layer.problems
    return folder


def options(build_dir: Path, **changes) -> DeployOptions:
    return DeployOptions(**{**NAMES, "build_dir": build_dir, **changes})


def quiet_deploy(sb, opts: DeployOptions):
    return deploy(sb, opts, out=io.StringIO())


def cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="run_local.py")
    deploy_commands.add_subcommands(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def name_flags(**names) -> list[str]:
    names = {**NAMES, **names}
    return [arg for key, value in names.items() for arg in (f"--{key.replace('_', '-')}", value)]


def error_code(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def upload_and_wait(sb, bucket: str, key: str, sample: str = "test.jpg"):
    sb.s3.upload_file(str(SAMPLES / sample), bucket, key)
    record = sb.wait_for_key(key, bucket=bucket, timeout=60)
    assert record is not None, f"no finished invocation for s3://{bucket}/{key}"
    return record


# ----------------------------------------------------------------------------------------------- dry run


def test_dry_run_prints_every_step_and_its_calls_and_changes_nothing(sandbox, tmp_path):
    code, out, err = cli(
        "deploy",
        "--endpoint-url",
        sandbox.endpoint_url,
        "--dry-run",
        "--build-dir",
        str(tmp_path),
        *name_flags(
            function_name="DryRunOnly", role_name="DryRunOnlyRole", source_bucket="dry-run-source-bucket"
        ),
    )

    assert code == 0, err
    for number, name in enumerate(
        [
            "IAM role DryRunOnlyRole",
            "Lambda function DryRunOnly",
            "Layer pillow-layer",
            "S3 trigger s3://dry-run-source-bucket",
        ],
        start=1,
    ):
        assert f"Step {number}/4  {name}" in out
    for call in (
        "iam CreateRole RoleName=DryRunOnlyRole",
        "lambda CreateFunction FunctionName=DryRunOnly",
        "lambda PublishLayerVersion LayerName=pillow-layer",
        "lambda AddPermission",
        "Principal=s3.amazonaws.com",
        "s3 PutBucketNotificationConfiguration Bucket=dry-run-source-bucket",
    ):
        assert call in out
    assert "LOCAL twin" in out  # the sandbox's default layer, and the output says why
    lam, iam = sandbox.client("lambda"), sandbox.client("iam")
    assert error_code(lambda: lam.get_function(FunctionName="DryRunOnly")) == "ResourceNotFoundException"
    assert error_code(lambda: iam.get_role(RoleName="DryRunOnlyRole")) == "NoSuchEntity"
    assert error_code(lambda: sandbox.s3.head_bucket(Bucket="dry-run-source-bucket")) == "404"
    assert not list(tmp_path.iterdir())  # nothing built either


def test_aws_dry_run_makes_no_call_and_creates_buckets_in_the_chosen_region(tmp_path):
    def no_client(service):
        raise AssertionError(f"a dry run must not make a {service} client call")

    report = deploy(
        no_client,
        DeployOptions(target="aws", region="eu-west-1", dry_run=True, build_dir=tmp_path),
        out=io.StringIO(),
    )

    buckets = [c for c in report.calls if c.operation == "CreateBucket"]
    assert [c.params["Bucket"] for c in buckets] == ["source-image-bucket123", "resized-image-bucket123"]
    assert all(c.params["CreateBucketConfiguration"] == {"LocationConstraint": "eu-west-1"} for c in buckets)
    publish = next(c for c in report.calls if c.operation == "PublishLayerVersion")
    assert publish.params["CompatibleRuntimes"] == ["python3.12"]
    assert publish.params["CompatibleArchitectures"] == ["x86_64"]
    assert "pillow-layer.zip" in repr(publish.params["Content"]["ZipFile"])  # the Lambda-platform zip for AWS


# -------------------------------------------------------------------------------------------- deploy


def test_deployed_function_resizes_an_upload_with_the_local_twin_layer(sandbox, build_dir):
    code, out, err = cli(
        "deploy", "--endpoint-url", sandbox.endpoint_url, "--build-dir", str(build_dir), *name_flags()
    )

    assert code == 0, err
    assert f"Step 1/4  IAM role {ROLE} ... created" in out
    assert f"Step 2/4  Lambda function {FUNCTION} ... created" in out
    assert "Step 3/4  Layer pillow-layer ... version" in out
    assert "LOCAL twin" in out
    configuration = sandbox.client("lambda").get_function_configuration(FunctionName=FUNCTION)
    assert configuration["Runtime"] == "python3.12"
    assert configuration["Handler"] == "lambda_function.lambda_handler"
    assert configuration["Environment"]["Variables"]["DESTINATION_BUCKET"] == DESTINATION
    assert [":layer:pillow-layer:" in layer["Arn"] for layer in configuration["Layers"]] == [True]
    attached = sandbox.client("iam").list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == MANAGED

    record = upload_and_wait(sandbox, SOURCE, "test.jpg")

    assert (record.function_name, record.status) == (FUNCTION, "success"), record.error_message
    body = sandbox.s3.get_object(Bucket=DESTINATION, Key="resized-test.jpg")["Body"].read()
    with Image.open(SAMPLES / "test.jpg") as original, Image.open(io.BytesIO(body)) as resized:
        assert resized.size == (original.width // 2, original.height // 2)


def test_deploy_again_updates_code_configuration_and_policies_instead_of_failing(sandbox, build_dir):
    quiet_deploy(sandbox, options(build_dir))

    report = quiet_deploy(sandbox, options(build_dir, least_privilege=True, memory=256))

    operations = report.operations()
    assert "UpdateFunctionCode" in operations and "UpdateFunctionConfiguration" in operations
    assert not {"CreateRole", "CreateFunction", "PublishLayerVersion", "AddPermission"} & set(operations)
    assert report.step(1).outcome.startswith("exists, policies updated")
    assert report.step(2).outcome.startswith("exists")
    assert "reused" in report.step(3).outcome
    iam = sandbox.client("iam")
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=ROLE, PolicyName="ImageResizeLeastPrivilege")["PolicyDocument"]
    grants = {
        s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]): s["Resource"]
        for s in document["Statement"]
    }
    assert grants["s3:GetObject"] == f"arn:aws:s3:::{SOURCE}/*"
    assert grants["s3:PutObject"] == f"arn:aws:s3:::{DESTINATION}/*"
    assert sandbox.client("lambda").get_function_configuration(FunctionName=FUNCTION)["MemorySize"] == 256
    notification = sandbox.s3.get_bucket_notification_configuration(Bucket=SOURCE)
    assert [c["Events"] for c in notification["LambdaFunctionConfigurations"]] == [["s3:ObjectCreated:*"]]
    statements = json.loads(sandbox.client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])["Statement"]
    assert [s["Principal"] for s in statements] == [{"Service": "s3.amazonaws.com"}]

    record = upload_and_wait(sandbox, SOURCE, "after-update.jpg")
    assert (record.function_name, record.status) == (FUNCTION, "success"), record.error_message


def test_deploy_without_the_layer_makes_the_next_upload_fail_with_no_module_named_pil(sandbox, build_dir):
    quiet_deploy(sandbox, options(build_dir))

    report = quiet_deploy(sandbox, options(build_dir, use_layer=False))

    assert report.step(3).outcome.startswith("skipped (--no-layer)")
    assert sandbox.client("lambda").get_function_configuration(FunctionName=FUNCTION).get("Layers", []) == []
    record = upload_and_wait(sandbox, SOURCE, "no-layer.jpg")
    assert record.function_name == FUNCTION
    assert record.error_type == "Runtime.ImportModuleError"
    assert "Unable to import module 'lambda_function': No module named 'PIL'" in record.error_message

    restored = quiet_deploy(sandbox, options(build_dir))
    assert "reused" in restored.step(3).outcome and "attached" in restored.step(3).outcome


def test_deploy_with_the_guides_names_updates_the_sandboxs_own_function(sandbox, build_dir):
    report = quiet_deploy(sandbox, DeployOptions(build_dir=build_dir))

    assert report.step(1).outcome.startswith("exists")
    assert report.step(2).outcome.startswith("exists")
    assert report.step(4).outcome.endswith(
        "notification exists"
    )  # the sandbox's trigger is kept, not doubled
    layers = sandbox.client("lambda").get_function_configuration(FunctionName="ImageResizeLambda")["Layers"]
    assert [":layer:pillow-layer:" in layer["Arn"] for layer in layers] == [True]
    record = upload_and_wait(sandbox, "source-image-bucket123", "guide.jpg")
    assert (record.function_name, record.status) == ("ImageResizeLambda", "success"), record.error_message


def test_second_trigger_on_the_same_bucket_is_refused_before_anything_changes(sandbox, build_dir):
    code, out, err = cli(
        "deploy",
        "--endpoint-url",
        sandbox.endpoint_url,
        "--build-dir",
        str(build_dir),
        *name_flags(
            function_name="Intruder", role_name="IntruderRole", source_bucket="source-image-bucket123"
        ),
    )

    assert code == 2
    assert err.startswith("error: s3://source-image-bucket123 already sends s3:ObjectCreated:* events")
    assert "overlapping" in err and len(err.strip().splitlines()) == 1
    assert (
        error_code(lambda: sandbox.client("lambda").get_function(FunctionName="Intruder"))
        == "ResourceNotFoundException"
    )
    assert error_code(lambda: sandbox.client("iam").get_role(RoleName="IntruderRole")) == "NoSuchEntity"


# ------------------------------------------------------------------------------------------- destroy


def test_destroy_removes_notification_permission_layer_versions_function_and_role(sandbox, build_dir):
    names = dict(
        function_name="ImageResizeLambdaShortLived",
        role_name="ShortLivedRole",
        layer_name="pillow-layer-short-lived",
        source_bucket="short-lived-source",
        destination_bucket="short-lived-resized",
    )
    quiet_deploy(sandbox, options(build_dir, **names))
    lam, iam = sandbox.client("lambda"), sandbox.client("iam")
    assert json.loads(lam.get_policy(FunctionName="ImageResizeLambdaShortLived")["Policy"])["Statement"]

    report = destroy(sandbox, options(build_dir, **names), out=io.StringIO())

    assert {
        "PutBucketNotificationConfiguration",
        "RemovePermission",
        "DeleteLayerVersion",
        "DeleteFunction",
        "DetachRolePolicy",
        "DeleteRole",
    } <= set(report.operations())
    configuration = sandbox.s3.get_bucket_notification_configuration(Bucket="short-lived-source")
    assert not configuration.get("LambdaFunctionConfigurations")
    assert lam.list_layer_versions(LayerName="pillow-layer-short-lived")["LayerVersions"] == []
    assert (
        error_code(lambda: lam.get_function(FunctionName="ImageResizeLambdaShortLived"))
        == "ResourceNotFoundException"
    )
    assert error_code(lambda: iam.get_role(RoleName="ShortLivedRole")) == "NoSuchEntity"
    sandbox.s3.head_bucket(Bucket="short-lived-source")  # buckets stay without --delete-buckets
    # The layer versions of the other deployed function are untouched.
    assert lam.list_layer_versions(LayerName="pillow-layer")["LayerVersions"]


def test_destroy_deletes_buckets_only_when_asked_and_non_empty_ones_only_with_force(sandbox, build_dir):
    names = dict(
        function_name="BucketsOnly",
        role_name="BucketsOnlyRole",
        layer_name="pillow-layer-buckets",
        source_bucket="buckets-only-source",
        destination_bucket="buckets-only-resized",
    )
    quiet_deploy(sandbox, options(build_dir, use_layer=False, **names))
    destroy(sandbox, options(build_dir, **names), out=io.StringIO())
    sandbox.s3.put_object(Bucket="buckets-only-source", Key="left-behind.txt", Body=b"x")

    kept = destroy(sandbox, options(build_dir, delete_buckets=True, **names), out=io.StringIO())

    assert "bucket buckets-only-source kept (not empty)" in kept.step(4).outcome
    assert "bucket buckets-only-resized deleted" in kept.step(4).outcome
    sandbox.s3.head_bucket(Bucket="buckets-only-source")

    forced = destroy(sandbox, options(build_dir, delete_buckets=True, force=True, **names), out=io.StringIO())

    assert "bucket buckets-only-source deleted (1 object(s))" in forced.step(4).outcome
    assert error_code(lambda: sandbox.s3.head_bucket(Bucket="buckets-only-source")) == "404"


# ------------------------------------------------------------------------------------------- failures


def test_unreachable_endpoint_exits_2_with_one_sentence_and_no_traceback():
    from helpers.sandboxes import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "run_local.py"), "deploy", "--endpoint-url", url],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: Nothing answers at {url}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_aws_target_refuses_the_local_twin_layer_before_any_call(build_dir):
    calls = []

    def record_client(service):
        calls.append(service)
        raise AssertionError("no call expected")

    with pytest.raises(DeployError) as info:
        deploy(
            record_client,
            DeployOptions(
                target="aws",
                region="us-east-1",
                build_dir=build_dir,
                layer_zip=build_dir / "pillow-layer-local.zip",
            ),
            out=io.StringIO(),
        )

    assert "AWS Lambda python3.12" in str(info.value)
    assert calls == []


@pytest.mark.parametrize(
    "ours, theirs, overlap",
    [
        ({"Events": ["s3:ObjectCreated:*"]}, {"Events": ["s3:ObjectCreated:Put"]}, True),
        ({"Events": ["s3:ObjectCreated:*"]}, {"Events": ["s3:ObjectRemoved:*"]}, False),
        (
            {"Events": ["s3:ObjectCreated:*"]},
            {
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"}]}},
            },
            True,
        ),
        (
            {
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}},
            },
            {
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".png"}]}},
            },
            False,
        ),
    ],
)
def test_trigger_overlap_follows_s3s_rule_for_one_bucket(ours, theirs, overlap):
    assert configurations_overlap(ours, theirs) is overlap


def test_endpoint_from_aws_endpoint_url_must_answer_too(monkeypatch):
    from helpers.sandboxes import free_port

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # pasted from the sandbox's banner, sandbox since stopped

    code, out, err = cli("deploy", "--dry-run")

    assert code == 2
    assert err.startswith(f"error: Nothing answers at {url}") and "AWS_ENDPOINT_URL" in err
    assert "Step" not in out
