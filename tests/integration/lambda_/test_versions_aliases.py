"""Versions and aliases through Lambda's API on the local endpoint, with boto3 and the AWS CLI: a published
version keeps its code and configuration, a qualifier or an alias runs its version, an alias's routing
weights split the invocations, and the logs and the Invoke response say which version ran."""

import base64
import io
import json
import math
import time
import zipfile

import botocore.session
import pytest
from botocore.exceptions import ClientError

from helpers.aws_cli import aws_cli
from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record

SOURCE = (HANDLERS / "versions" / "app.py").read_text()


def code(tag: str) -> bytes:
    """The test function's zip, saying ``tag`` as its code."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", SOURCE.replace('CODE = "one"', f'CODE = "{tag}"'))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(HANDLERS / "faults")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def lam(sb):
    return sb.client("lambda")


_names = iter(range(1000))


@pytest.fixture
def fn(sb, lam):
    """A new function, "one" as its code, COLOR=blue, 128 MB, 3 s."""
    name = f"versioned-{next(_names)}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=sb.function.role_arn,
        Handler="app.handler",
        Code={"ZipFile": code("one")},
        Environment={"Variables": {"COLOR": "blue"}},
    )
    return name


def call(lam, name, **options) -> tuple[dict, dict]:
    response = lam.invoke(FunctionName=name, **options)
    return json.loads(response["Payload"].read()), response


def test_a_published_version_keeps_its_code_and_configuration_when_latest_changes(lam, fn):
    one = lam.publish_version(FunctionName=fn)
    assert one["Version"] == "1" and one["FunctionArn"].endswith(f":function:{fn}:1")
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    lam.update_function_configuration(
        FunctionName=fn,
        Environment={"Variables": {"COLOR": "green"}},
        MemorySize=256,
        Timeout=10,
        Handler="app.renamed",
    )

    old, response = call(lam, fn, Qualifier="1")
    assert response["ExecutedVersion"] == "1"
    assert (old["code"], old["color"], old["memory"], old["entry"]) == ("one", "blue", "128", "handler")
    assert old["remaining_ms"] <= 3000
    assert old["function_version"] == old["env_version"] == "1"
    assert old["invoked_function_arn"].endswith(f":function:{fn}:1")

    latest, response = call(lam, fn)
    assert response["ExecutedVersion"] == "$LATEST"
    assert (latest["code"], latest["color"], latest["memory"], latest["entry"]) == (
        "two",
        "green",
        "256",
        "renamed",
    )
    assert latest["remaining_ms"] > 3000
    assert latest["function_version"] == "$LATEST"
    assert latest["invoked_function_arn"].endswith(f":function:{fn}")

    two = lam.publish_version(FunctionName=fn)
    assert two["Version"] == "2"
    again, response = call(lam, f"{fn}:2")
    assert response["ExecutedVersion"] == "2" and again["code"] == "two"


def test_publishing_without_a_change_returns_the_last_version_and_numbers_are_never_reused(lam, fn):
    assert lam.publish_version(FunctionName=fn)["Version"] == "1"
    assert lam.publish_version(FunctionName=fn)["Version"] == "1"  # nothing changed since
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    assert lam.publish_version(FunctionName=fn)["Version"] == "2"
    lam.delete_function(FunctionName=fn, Qualifier="2")
    lam.update_function_code(FunctionName=fn, ZipFile=code("three"))
    assert lam.publish_version(FunctionName=fn)["Version"] == "3"  # not a second "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]]
    assert versions == ["$LATEST", "1", "3"]
    gone = lam.exceptions.ResourceNotFoundException
    with pytest.raises(gone):
        lam.invoke(FunctionName=fn, Qualifier="2")
    assert call(lam, fn, Qualifier="3")[0]["code"] == "three"


def test_an_alias_runs_its_version_however_it_is_named(lam, fn):
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    alias = lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f":function:{fn}:live")
    for options in (
        {"FunctionName": fn, "Qualifier": "live"},
        {"FunctionName": f"{fn}:live"},
        {"FunctionName": alias["AliasArn"]},
        {"FunctionName": f"123456789012:function:{fn}:live"},
    ):
        payload, response = call(lam, options.pop("FunctionName"), **options)
        assert response["ExecutedVersion"] == "1" and payload["code"] == "one", options
        assert payload["invoked_function_arn"] == alias["AliasArn"]
    assert lam.get_alias(FunctionName=fn, Name="live")["FunctionVersion"] == "1"

    lam.publish_version(FunctionName=fn)
    lam.update_alias(FunctionName=fn, Name="live", FunctionVersion="2")
    payload, response = call(lam, fn, Qualifier="live")
    assert response["ExecutedVersion"] == "2" and payload["code"] == "two"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=fn)["Aliases"]] == ["live"]

    lam.delete_alias(FunctionName=fn, Name="live")
    assert lam.list_aliases(FunctionName=fn)["Aliases"] == []
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=fn, Qualifier="live")


def test_the_logs_name_the_version_in_stream_names_and_start_lines(sb, lam, fn):
    lam.publish_version(FunctionName=fn)
    _, versioned = call(lam, fn, Qualifier="1", LogType="Tail")
    _, latest = call(lam, fn, LogType="Tail")
    tail = base64.b64decode(versioned["LogResult"]).decode()
    assert "Version: 1\n" in tail.replace("\r", "") and "REPORT RequestId:" in tail
    assert "Version: $LATEST" in base64.b64decode(latest["LogResult"]).decode()
    logs = sb.client("logs")
    day = time.strftime("%Y/%m/%d", time.gmtime())

    def streams():  # the sandbox writes its log lines to CloudWatch in batches (the group with its first)
        try:
            found = logs.describe_log_streams(logGroupName=f"/aws/lambda/{fn}")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [s["logStreamName"] for s in found]

    names = eventually(
        streams,
        lambda found: {s.split("]")[0] + "]" for s in found} >= {f"{day}/[1]", f"{day}/[$LATEST]"},
        what="a stream of version 1 and one of $LATEST",
    )
    version_stream = next(s for s in names if "/[1]" in s)

    def messages():
        found = logs.get_log_events(logGroupName=f"/aws/lambda/{fn}", logStreamName=version_stream)["events"]
        return [e["message"] for e in found]

    lines = eventually(
        messages, lambda found: any(m.startswith("REPORT RequestId:") for m in found), what="REPORT"
    )
    assert any(m.startswith("START RequestId:") and m.endswith("Version: 1") for m in lines), lines


def test_each_version_has_its_own_environments_and_cold_starts(sb, lam, fn):
    lam.publish_version(FunctionName=fn)
    call(lam, fn)
    call(lam, fn)
    first = sb.invoke({}, f"{fn}:1")
    second = sb.invoke({}, f"{fn}:1")
    assert (first.cold_start, second.cold_start) == (True, False)
    assert first.environment_id == second.environment_id
    latest = sb.invoke({}, fn)
    assert latest.cold_start is False and latest.environment_id != first.environment_id


def test_routing_weights_split_the_invocations_in_their_proportion(lam, fn):
    """300 invocations through an alias sending 30 % to version 2: the count of version 2 lies within
    5 standard deviations of a binomial's mean (a bound a fair draw misses about once in 1.7 million)."""
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    lam.publish_version(FunctionName=fn)
    lam.create_alias(
        FunctionName=fn,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    n, p = 300, 0.3
    counts = {"1": 0, "2": 0}
    for _ in range(n):
        payload, response = call(lam, fn, Qualifier="canary")
        counts[response["ExecutedVersion"]] += 1
        assert payload["code"] == {"1": "one", "2": "two"}[response["ExecutedVersion"]]
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(counts["2"] - n * p) <= 5 * sigma, counts


def test_an_s3_notification_to_an_alias_invokes_the_aliases_version(sb, lam, fn):
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    alias = lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    s3 = sb.client("s3")
    bucket = f"{fn}-uploads"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": alias["AliasArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    record = wait_for_record(
        sb,
        lambda r: r.function_name == fn and r.trigger == "s3" and r.final,
        what="the S3 event's invocation",
    )
    assert (record.qualifier, record.executed_version, record.result["code"]) == ("live", "1", "one")
    assert record.result["invoked_function_arn"] == alias["AliasArn"]
    assert "/[1]" in record.log_stream
    assert any(t["kind"] == "Alias" and t["source"] == f"{fn}:live" for t in sb.triggers())


def test_a_function_url_of_an_alias_runs_the_aliases_version(sb, lam, fn):
    from helpers.function_urls import call as url_call

    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    aliased = lam.create_function_url_config(FunctionName=fn, Qualifier="live", AuthType="NONE")
    own = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")
    assert (
        aliased["FunctionArn"].endswith(f":function:{fn}:live")
        and aliased["FunctionUrl"] != own["FunctionUrl"]
    )
    status, _, body = url_call(sb, aliased)
    assert status == 200 and json.loads(body)["code"] == "one"
    status, _, body = url_call(sb, own)
    assert status == 200 and json.loads(body)["code"] == "two"
    lam.delete_alias(FunctionName=fn, Name="live")  # the alias's URL goes with it
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=fn, Qualifier="live")
    assert lam.get_function_url_config(FunctionName=fn)["FunctionUrl"] == own["FunctionUrl"]


def test_an_api_gateway_integration_with_a_version_arn_invokes_that_version(sb, lam, fn):
    from helpers.api_gateway import call as api_call
    from helpers.api_gateway import http_api

    arn = lam.publish_version(FunctionName=fn)["FunctionArn"]
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    api = http_api(sb, arn)
    answer = api_call(sb, api, "/hello")
    assert answer.status == 200 and json.loads(answer.body)["code"] == "one"


def _modelled(operation: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("lambda").operation_model(operation)
    return {shape.name for shape in model.error_shapes}


@pytest.mark.parametrize(
    "operation, request_, code, message",
    [
        (
            "DeleteFunction",
            {"Qualifier": "1"},
            "ResourceConflictException",
            "Unable to delete version because the following aliases reference it: [live]",
        ),
        (
            "DeleteFunction",
            {"Qualifier": "$LATEST"},
            "InvalidParameterValueException",
            "$LATEST version cannot be deleted without deleting the function.",
        ),
        (
            "DeleteFunction",
            {"Qualifier": "live"},
            "InvalidParameterValueException",
            "Deletion of aliases is not currently supported.",
        ),
        ("Invoke", {"Qualifier": "9"}, "ResourceNotFoundException", "Function not found: {arn}:9"),
        ("Invoke", {"Qualifier": "nope"}, "ResourceNotFoundException", "Function not found: {arn}:nope"),
        (
            "CreateAlias",
            {"Name": "live", "FunctionVersion": "1"},
            "ResourceConflictException",
            "Alias already exists: {arn}:live",
        ),
        (
            "CreateAlias",
            {"Name": "other", "FunctionVersion": "7"},
            "ResourceNotFoundException",
            "Function not found: {arn}:7",
        ),
        (
            "CreateAlias",
            {
                "Name": "other",
                "FunctionVersion": "$LATEST",
                "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}},
            },
            "InvalidParameterValueException",
            "$LATEST is not supported for an alias pointing to more than 1 version",
        ),
        (
            "CreateAlias",
            {
                "Name": "other",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}},
            },
            "InvalidParameterValueException",
            "Invalid function version 1. Function version 1 is already included in routing configuration.",
        ),
        (
            "CreateAlias",
            {
                "Name": "other",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"8": 0.5}},
            },
            "ResourceNotFoundException",
            "Function not found: {arn}:8",
        ),
        ("GetAlias", {"Name": "nope"}, "ResourceNotFoundException", "Cannot find alias arn: {arn}:nope"),
        ("UpdateAlias", {"Name": "nope"}, "ResourceNotFoundException", "Cannot find alias arn: {arn}:nope"),
        (
            "UpdateAlias",
            {"Name": "live", "RevisionId": "not-the-revision"},
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias "
            "API to retrieve the latest Revision Id",
        ),
        (
            "PublishVersion",
            {"CodeSha256": "c2FuZGJveA=="},
            "InvalidParameterValueException",
            "CodeSHA256 (c2FuZGJveA==) is different from current CodeSHA256 in $LATEST ({sha}). Please try "
            "again with the CodeSHA256 in $LATEST.",
        ),
    ],
)
def test_refusals_have_lambdas_modelled_error_and_message(lam, fn, operation, request_, code, message):
    latest = lam.publish_version(FunctionName=fn)
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    arn = latest["FunctionArn"].rsplit(":", 1)[0]
    method = getattr(lam, botocore.xform_name(operation))
    with pytest.raises(ClientError) as raised:
        method(FunctionName=fn, **request_)
    error = raised.value.response["Error"]
    assert code in _modelled(operation)  # boto3 raises the modelled exception class
    assert isinstance(raised.value, getattr(lam.exceptions, code))
    assert error["Code"] == code
    assert error["Message"] == message.format(arn=arn, sha=latest["CodeSha256"])


def test_routing_weights_outside_0_to_1_are_a_validation_error(lam, fn):
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    lam.publish_version(FunctionName=fn)
    with pytest.raises(ClientError) as raised:
        lam.create_alias(
            FunctionName=fn,
            Name="x",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}},
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'routingConfig.additionalVersionWeights' failed to satisfy constraint" in str(raised.value)


def test_the_aws_cli_publishes_routes_and_reads_versions_and_aliases(sb, lam, fn, tmp_path):
    aws = aws_cli(sb)

    def ok(*args) -> dict:
        done = aws("lambda", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    assert ok("publish-version", "--function-name", fn)["Version"] == "1"
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    assert lam.publish_version(FunctionName=fn)["Version"] == "2"  # the CLI's run of it is just above
    alias = ok(
        "create-alias",
        "--function-name", fn,
        "--name", "live",
        "--function-version", "1",
        "--routing-config", "AdditionalVersionWeights={2=0.3}",  # a shell's ={"2"=0.3}
    )  # fmt: skip
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.3}}
    assert ok("get-alias", "--function-name", fn, "--name", "live")["FunctionVersion"] == "1"
    out = tmp_path / "out.json"
    answer = ok("invoke", "--function-name", fn, "--qualifier", "live", str(out))
    assert answer["ExecutedVersion"] in ("1", "2")
    assert json.loads(out.read_text())["code"] == {"1": "one", "2": "two"}[answer["ExecutedVersion"]]
    ok(
        "update-alias",
        "--function-name",
        fn,
        "--name",
        "live",
        "--function-version",
        "2",
        "--routing-config",
        "{}",
    )
    answer = ok("invoke", "--function-name", f"{fn}:live", str(out))
    assert answer["ExecutedVersion"] == "2"
    versions = ok("list-versions-by-function", "--function-name", fn)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [a["Name"] for a in ok("list-aliases", "--function-name", fn)["Aliases"]] == ["live"]
    ok("delete-function", "--function-name", fn, "--qualifier", "1")  # the reads after it: boto3's
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]] == [
        "$LATEST",
        "2",
    ]
    ok("delete-alias", "--function-name", fn, "--name", "live")
    assert lam.list_aliases(FunctionName=fn)["Aliases"] == []
    eventually(
        lambda: sb.runtime(f"{fn}:1"), lambda found: found is None, what="version 1's environments to go"
    )


def test_publish_on_update_and_create_freezes_that_version_too(sb, lam, fn):
    published = lam.update_function_code(FunctionName=fn, ZipFile=code("two"), Publish=True)
    assert published["Version"] == "1"
    lam.update_function_code(FunctionName=fn, ZipFile=code("three"))
    payload, response = call(lam, fn, Qualifier="1")
    assert (response["ExecutedVersion"], payload["code"]) == ("1", "two")
    created = lam.create_function(
        FunctionName=f"{fn}-published",
        Runtime="python3.12",
        Role=sb.function.role_arn,
        Handler="app.handler",
        Code={"ZipFile": code("first")},
        Publish=True,
    )
    assert created["Version"] == "1"
    lam.update_function_code(FunctionName=f"{fn}-published", ZipFile=code("later"))
    assert call(lam, f"{fn}-published:1")[0]["code"] == "first"


def test_list_aliases_of_one_version(lam, fn):
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    lam.publish_version(FunctionName=fn)
    lam.create_alias(FunctionName=fn, Name="blue", FunctionVersion="1")
    lam.create_alias(FunctionName=fn, Name="green", FunctionVersion="2")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=fn, FunctionVersion="2")["Aliases"]] == ["green"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=fn)["Aliases"]] == ["blue", "green"]


def test_a_queue_mapping_to_an_alias_keeps_its_arn_and_runs_the_aliases_version(sb, lam, fn):
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=code("two"))
    alias = lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    sqs = sb.client("sqs")
    url = sqs.create_queue(QueueName=f"{fn}-work")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{fn}:live", BatchSize=1)
    assert mapping["FunctionArn"] == alias["AliasArn"]
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FunctionArn"] == alias["AliasArn"]
    sqs.send_message(QueueUrl=url, MessageBody="work")
    record = wait_for_record(
        sb, lambda r: r.function_name == fn and r.trigger == "sqs" and r.final, what="the queue's invocation"
    )
    assert (record.qualifier, record.executed_version, record.result["code"]) == ("live", "1", "one")


class _WritesLogsWhenCopied:
    """Stands in for the sandbox's threads writing logs at the moment moto copies a function."""

    def __init__(self, backend):
        self.backend = backend

    def __deepcopy__(self, memo):
        self.backend.__dict__[f"written-{len(self.backend.__dict__)}"] = None
        return self


def test_create_with_publish_and_list_functions_answer_while_logs_are_written(sb, lam):
    from moto.logs.models import logs_backends

    from sandbox.config import ACCOUNT_ID

    backend = logs_backends[ACCOUNT_ID][sb.config.region]
    backend.sandbox_test_writer = _WritesLogsWhenCopied(backend)
    try:
        created = lam.create_function(
            FunctionName="published-while-logging",
            Runtime="python3.12",
            Role=sb.function.role_arn,
            Handler="app.handler",
            Code={"ZipFile": code("first")},
            Publish=True,
        )
        listed = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    finally:
        del backend.sandbox_test_writer
        for name in [k for k in backend.__dict__ if k.startswith("written-")]:
            del backend.__dict__[name]
    assert created["Version"] == "1"
    assert "published-while-logging" in listed
    assert call(lam, "published-while-logging:1")[0]["code"] == "first"
