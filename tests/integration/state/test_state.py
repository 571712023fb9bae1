"""The state directory (sandbox/state/): what a restart keeps, what it must not do again, and how a damaged
state is refused. Real sandboxes on free ports, stopped and started again on the same directory; the
AWS CLI and boto3 as clients."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import zipfile

import pytest

from helpers.aws_cli import aws_command
from helpers.paths import PROJECT_ROOT, SAMPLES
from helpers.waiting import eventually, settle, wait_for_record
from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.core import Sandbox
from sandbox.state import StateError
from sandbox.state.requests import operation
from sandbox.state.store import FORMAT, StateStore

IMAGE = (SAMPLES / "test.jpg").read_bytes()


def _sandbox(state_dir, **config):
    return Sandbox(
        SandboxConfig(port=0, web_port=None, state_dir=str(state_dir), full_cpu=True, **config),
        FunctionConfiguration(code_dir=PROJECT_ROOT / "handler"),
    ).start()


# -- which requests are written (units) --------------------------------------------------------------
def _environ(method="GET", path="/", query="", **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "127.0.0.1:4566",
    }
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return environ


@pytest.mark.parametrize(
    "method,path,query,keys,bucket_changed",
    [
        ("PUT", "/b/photos/a.jpg", "", ["photos/a.jpg"], False),  # PutObject
        ("DELETE", "/b/a.jpg", "", ["a.jpg"], False),  # DeleteObject
        ("PUT", "/b/a.jpg", "tagging", ["a.jpg"], True),  # moto keeps object tags in the backend
        ("POST", "/b/a.jpg", "uploadId=u", ["a.jpg"], True),  # CompleteMultipartUpload
        ("PUT", "/b", "", [], True),  # CreateBucket
        ("PUT", "/b", "notification", [], True),
    ],
)
def test_s3_writes_name_the_keys_or_the_bucket_they_change(method, path, query, keys, bucket_changed):
    op = operation("s3", _environ(method, path, query), b"")
    assert op.writes and op.s3_bucket == "b" and op.s3_keys == keys and op.s3_bucket_changed == bucket_changed


def test_s3_reads_and_delete_objects_are_told_apart():
    assert not operation("s3", _environ("GET", "/b/a.jpg"), b"").writes
    assert not operation("s3", _environ("HEAD", "/b/a.jpg"), b"").writes
    assert not operation("s3", _environ("PUT", "/b/a.jpg", "partNumber=1&uploadId=u"), b"").writes
    body = b"<Delete><Object><Key>a.jpg</Key></Object><Object><Key>b/c d.png</Key></Object></Delete>"
    op = operation("s3", _environ("POST", "/b", "delete"), body)
    assert op.s3_keys == ["a.jpg", "b/c d.png"] and not op.s3_bucket_changed


@pytest.mark.parametrize(
    "service,environ,body,writes,appended",
    [
        ("sqs", _environ("POST", "/", x_amz_target="AmazonSQS.SendMessage"), b"{}", True, False),
        ("sqs", _environ("POST", "/", x_amz_target="AmazonSQS.ReceiveMessage"), b"{}", False, False),
        ("dynamodb", _environ("POST", "/", x_amz_target="DynamoDB_20120810.PutItem"), b"{}", True, False),
        ("dynamodb", _environ("POST", "/", x_amz_target="DynamoDB_20120810.Query"), b"{}", False, False),
        ("logs", _environ("POST", "/", x_amz_target="Logs_20140328.PutLogEvents"), b"{}", True, True),
        (
            "iam",
            {**_environ("POST", "/"), "CONTENT_TYPE": "application/x-www-form-urlencoded"},
            b"Action=CreateRole&RoleName=r",
            True,
            False,
        ),
        (
            "iam",
            {**_environ("POST", "/"), "CONTENT_TYPE": "application/x-www-form-urlencoded"},
            b"Action=GetRole&RoleName=r",
            False,
            False,
        ),
        ("awslambda", _environ("POST", "/2015-03-31/functions"), b"{}", True, False),
        ("awslambda", _environ("POST", "/2015-03-31/functions/f/invocations"), b"{}", False, False),
        ("awslambda", _environ("GET", "/2015-03-31/functions/f"), b"", False, False),
    ],
)
def test_operations_of_every_protocol_are_read_as_writes_or_reads(service, environ, body, writes, appended):
    op = operation(service, environ, body)
    assert (op.writes, op.appended) == (writes, appended)


# -- what a restart keeps ------------------------------------------------------------------------------
def test_objects_metadata_functions_logs_and_history_survive_a_restart(tmp_path, aws_cli_env):
    sb = _sandbox(tmp_path)
    try:
        s3 = sb.s3
        s3.put_object(
            Bucket=sb.config.source_bucket,
            Key="a b/test.jpg",
            Body=IMAGE,
            ContentType="image/jpeg",
            Metadata={"owner": "class-3"},
            Tagging="lesson=1",
        )
        record = wait_for_record(
            sb, lambda r: r.final and r.subject.get("key") == "a b/test.jpg", what="resize"
        )
        sb.update_function_configuration(memory_size=256, environment={"SCALE": "0.25"})
        settle(sb)
        logs_before = [e.message for e in sb.log_events()]
    finally:
        sb.stop()

    sb = _sandbox(tmp_path)
    try:
        assert sb.restored and "restored" in sb.persistence.describe()
        got = sb.s3.get_object(Bucket=sb.config.source_bucket, Key="a b/test.jpg")
        assert got["Body"].read() == IMAGE and got["ContentType"] == "image/jpeg"
        assert got["Metadata"] == {"owner": "class-3"}
        tags = sb.s3.get_object_tagging(Bucket=sb.config.source_bucket, Key="a b/test.jpg")["TagSet"]
        assert tags == [{"Key": "lesson", "Value": "1"}]
        assert sb.s3.head_object(Bucket=sb.config.destination_bucket, Key="resized-a b/test.jpg")
        # the configuration changed through the API, in moto's view and in the function that runs
        config = sb.client("lambda").get_function_configuration(FunctionName=sb.function.function_name)
        assert config["MemorySize"] == 256 and config["Environment"]["Variables"] == {"SCALE": "0.25"}
        assert sb.function.memory_size == 256 and sb.function.environment == {"SCALE": "0.25"}
        # the history the page shows, with its outcome, and no event fired again for the restored object
        restored = [r for r in sb.invocations() if r.subject.get("key") == "a b/test.jpg"]
        assert [(r.request_id, r.status) for r in restored] == [(record.request_id, "success")]
        # CloudWatch Logs, through the real AWS CLI, and the page's mirror with each line's request
        out = subprocess.run(
            [
                *aws_command(),
                "logs",
                "filter-log-events",
                "--log-group-name",
                f"/aws/lambda/{sb.function.function_name}",
            ],
            capture_output=True,
            text=True,
            env={**aws_cli_env, **sb.client_environment()},
            timeout=60,
            check=True,
        )
        messages = [e["message"] for e in json.loads(out.stdout)["events"]]
        assert f"START RequestId: {record.request_id} Version: $LATEST" in messages
        assert [e.message for e in sb.log_events()] == logs_before
        assert {e.request_id for e in sb.log_events(request_id=record.request_id)} == {record.request_id}
        # and it runs: a new upload is resized with the restored settings
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="after.jpg", Body=IMAGE)
        after = wait_for_record(sb, lambda r: r.final and r.subject.get("key") == "after.jpg", what="resize")
        assert after.status == "success" and after.memory_size_mb == 256
    finally:
        sb.stop()


@pytest.fixture
def aws_cli_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_functions_layers_queues_tables_and_dead_letters_created_through_the_apis_survive(tmp_path):
    sb = _sandbox(tmp_path)
    try:
        lam, sqs, ddb = sb.client("lambda"), sb.client("sqs"), sb.client("dynamodb")
        layer = lam.publish_layer_version(
            LayerName="greeting", Content={"ZipFile": _zip({"python/greeting.py": "WORD = 'hello'\n"})}
        )["LayerVersionArn"]
        sqs.create_queue(QueueName="greeter-dlq")
        lam.create_function(
            FunctionName="Greeter",
            Runtime="python3.12",
            Role=sb.function.role_arn,
            Handler="app.handler",
            Layers=[layer],
            Code={
                "ZipFile": _zip(
                    {
                        "app.py": "import greeting\ndef handler(event, context):\n"
                        "    return {'said': greeting.WORD + ' ' + event['name']}\n"
                    }
                )
            },
            DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:greeter-dlq"},
        )
        lam.put_function_concurrency(FunctionName="Greeter", ReservedConcurrentExecutions=3)
        lam.put_function_event_invoke_config(FunctionName="Greeter", MaximumRetryAttempts=0)
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sent = sqs.send_message(QueueUrl=url, MessageBody="still here")["MessageId"]
        ddb.create_table(
            TableName="notes",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="notes", Item={"id": {"S": "1"}, "text": {"S": "kept"}})
        # a failing asynchronous event (no retries configured) ends in the function's dead-letter queue
        lam.invoke(FunctionName="Greeter", InvocationType="Event", Payload=b'{"nobody": 1}')
        eventually(lambda: sb.dead_letters("Greeter"), what="the dead-lettered event", timeout=60)
        settle(sb)
    finally:
        sb.stop()

    sb = _sandbox(tmp_path)
    try:
        lam = sb.client("lambda")
        result = json.loads(
            lam.invoke(FunctionName="Greeter", Payload=b'{"name": "class"}')["Payload"].read()
        )
        assert result == {"said": "hello class"}
        assert lam.get_function_concurrency(FunctionName="Greeter")["ReservedConcurrentExecutions"] == 3
        assert lam.get_function_event_invoke_config(FunctionName="Greeter")["MaximumRetryAttempts"] == 0
        assert sb.runtime("Greeter").function.maximum_retry_attempts == 0
        sqs = sb.client("sqs")
        url = sqs.get_queue_url(QueueName="kept")["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        assert [(m["MessageId"], m["Body"]) for m in messages] == [(sent, "still here")]
        item = sb.client("dynamodb").get_item(TableName="notes", Key={"id": {"S": "1"}})["Item"]
        assert item["text"] == {"S": "kept"}
        dead = sb.dead_letters("Greeter")
        assert len(dead) == 1 and dead[0]["event"] == {"nobody": 1}
    finally:
        sb.stop()


# -- a damaged state: one message, nothing half-restored ------------------------------------------
def _kept_state(tmp_path):
    sb = _sandbox(tmp_path)
    try:
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="kept.jpg", Body=IMAGE)
        wait_for_record(sb, lambda r: r.final and r.subject.get("key") == "kept.jpg", what="resize")
        settle(sb)
    finally:
        sb.stop()
    return tmp_path / "state.sqlite3"


def _assert_refused(tmp_path, *words):
    database = tmp_path / "state.sqlite3"
    before = database.read_bytes() if database.exists() else None
    with pytest.raises(StateError) as refused:
        _sandbox(tmp_path).stop()  # one that starts is stopped: the failure stays this test's
    message = str(refused.value)
    for word in words:
        assert word in message
    assert str(tmp_path) in message
    assert (database.read_bytes() if database.exists() else None) == before  # left as it was
    # nothing half-restored: the endpoint is stopped and the next sandbox (in memory) starts empty
    with Sandbox(SandboxConfig(port=0, web_port=None)) as fresh:
        assert fresh.s3.list_objects_v2(Bucket=fresh.config.source_bucket).get("KeyCount") == 0
    return message


def test_a_state_from_a_newer_version_is_refused_with_what_to_do(tmp_path):
    database = _kept_state(tmp_path)
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute(f"PRAGMA user_version = {FORMAT + 1}")
    message = _assert_refused(tmp_path, "newer version", f"format {FORMAT + 1}", "--fresh")
    assert "damaged" not in message


def test_a_file_that_is_not_a_state_database_is_refused(tmp_path):
    (tmp_path / "state.sqlite3").write_bytes(b"this is not a database, it was typed by hand\n" * 100)
    _assert_refused(tmp_path, "damaged", "--salvage", "--fresh")


def test_a_database_torn_in_mid_write_is_refused(tmp_path):
    database = _kept_state(tmp_path)
    data = bytearray(database.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = os.urandom(8192)  # a torn page in the middle of the file
    database.write_bytes(bytes(data))
    _assert_refused(tmp_path, "damaged")


def _flip_the_objects_bytes(database):
    """Flip 1 KB of kept.jpg's own bytes wherever the file holds them: an overflow page's content, which
    SQLite's quick_check does not read."""
    data = bytearray(database.read_bytes())
    middle = len(IMAGE) // 2
    needle, at, found = IMAGE[middle : middle + 1024], -1, 0
    while (at := data.find(needle, at + 1)) != -1:
        data[at : at + len(needle)] = bytes(b ^ 0xFF for b in needle)
        found += 1
    assert found, "the object's bytes are not in the database file"
    database.write_bytes(bytes(data))


def test_a_torn_page_of_an_objects_bytes_is_refused_and_named(tmp_path):
    database = _kept_state(tmp_path)
    _flip_the_objects_bytes(database)
    _assert_refused(tmp_path, "damaged", "source-image-bucket123/kept.jpg", "--salvage", "--fresh")


def test_salvage_of_a_torn_object_restores_the_rest_and_names_it(tmp_path):
    _flip_the_objects_bytes(_kept_state(tmp_path))
    sb = _sandbox(tmp_path, salvage=True)
    try:
        assert [item for item in sb.persistence.skipped if "kept.jpg" in item and "resized" not in item]
        with pytest.raises(sb.s3.exceptions.ClientError, match="404"):
            sb.s3.head_object(Bucket=sb.config.source_bucket, Key="kept.jpg")
        resized = sb.s3.head_object(Bucket=sb.config.destination_bucket, Key="resized-kept.jpg")
        assert resized["ContentLength"] > 0
        assert sb.persistence.restored.get("invocations") == 1
        assert list(tmp_path.glob("damaged-*/state.sqlite3"))  # the original is kept aside
    finally:
        sb.stop()
    _sandbox(tmp_path).stop()  # the next start needs no --salvage


def test_salvage_of_a_database_sqlite_refuses_leaves_out_a_torn_object(tmp_path):
    database = _kept_state(tmp_path)
    _flip_the_objects_bytes(database)
    with contextlib.closing(sqlite3.connect(database)) as db:
        root = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_entities_1'"
        ).fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(database.read_bytes())
    data[(root - 1) * size : root * size] = os.urandom(size)  # the names' index: SQLite's check fails
    database.write_bytes(bytes(data))
    sb = _sandbox(tmp_path, salvage=True)
    try:
        assert [item for item in sb.persistence.skipped if "kept.jpg" in item and "resized" not in item]
        with pytest.raises(sb.s3.exceptions.ClientError, match="404"):
            sb.s3.head_object(Bucket=sb.config.source_bucket, Key="kept.jpg")
        resized = sb.s3.head_object(Bucket=sb.config.destination_bucket, Key="resized-kept.jpg")
        assert resized["ContentLength"] > 0
    finally:
        sb.stop()


def test_a_state_written_before_checksums_opens_and_restores(tmp_path):
    database = _kept_state(tmp_path)
    older = tmp_path / "older.sqlite3"
    with contextlib.closing(sqlite3.connect(older)) as db, db:  # the tables as format 1 made them
        db.execute("PRAGMA page_size=16384")
        db.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE entities(name TEXT PRIMARY KEY, seq INTEGER NOT NULL, data BLOB NOT NULL)")
        db.execute("CREATE TABLE appends(seq INTEGER PRIMARY KEY, service TEXT NOT NULL, data BLOB NOT NULL)")
        db.execute("ATTACH ? AS kept", (str(database),))
        db.execute("INSERT INTO meta SELECT key, value FROM kept.meta")
        db.execute("INSERT INTO entities SELECT name, seq, data FROM kept.entities")
        db.execute("INSERT INTO appends SELECT seq, service, data FROM kept.appends")
        db.execute("PRAGMA user_version = 1")
    older.replace(database)
    sb = _sandbox(tmp_path)  # opened as it is
    try:
        assert sb.s3.get_object(Bucket=sb.config.source_bucket, Key="kept.jpg")["Body"].read() == IMAGE
        assert sb.persistence.restored.get("invocations") == 1
        sb.s3.put_object(Bucket=sb.config.destination_bucket, Key="after.txt", Body=b"written after")
    finally:
        sb.stop()
    sb = _sandbox(tmp_path)  # then as the sandbox left it: old entries and new ones
    try:
        assert sb.s3.get_object(Bucket=sb.config.source_bucket, Key="kept.jpg")["Body"].read() == IMAGE
        after = sb.s3.get_object(Bucket=sb.config.destination_bucket, Key="after.txt")
        assert after["Body"].read() == b"written after"
    finally:
        sb.stop()
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == FORMAT


def test_every_read_of_the_store_checks_the_bytes_against_their_checksum(tmp_path):
    store = StateStore(tmp_path).open()
    try:
        store.put("lambda/registry", b"registry")
        store.put("source/position", b"{}")
        store.append("logs", b"a batch")
        with contextlib.closing(sqlite3.connect(tmp_path / "state.sqlite3")) as db, db:
            db.execute("UPDATE entities SET data = x'00' WHERE name = 'lambda/registry'")
            db.execute("UPDATE appends SET data = x'00'")
        for read in (
            lambda: store.get("lambda/registry"),
            lambda: list(store.entities()),
            lambda: list(store.appends()),
        ):
            with pytest.raises(StateError, match=r"damaged \((lambda/registry|append/3) does not match"):
                read()
        left_out = []  # --salvage's way: the damaged entry is named and left out, the rest is read
        damaged = lambda name, detail: left_out.append(name)  # noqa: E731
        assert store.get("lambda/registry", damaged) is None
        assert list(store.entities("", damaged)) == [("source/position", b"{}")]
        assert list(store.appends(damaged)) == []
        assert left_out == ["lambda/registry", "lambda/registry", "append/3"]
    finally:
        store.close()


def test_an_entry_edited_by_hand_is_refused_and_named(tmp_path):
    database = _kept_state(tmp_path)
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE entities SET data = x'00ff00ff' WHERE name = 'moto/sqs'")
    _assert_refused(tmp_path, "moto/sqs", "--salvage")


def test_salvage_restores_what_can_be_read_and_names_the_rest(tmp_path):
    database = _kept_state(tmp_path)
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE entities SET data = x'00ff00ff' WHERE name = 'moto/sqs'")
    sb = _sandbox(tmp_path, salvage=True)
    try:
        assert any(item.startswith("moto/sqs") for item in sb.persistence.skipped)
        assert sb.s3.get_object(Bucket=sb.config.source_bucket, Key="kept.jpg")["Body"].read() == IMAGE
        assert list((tmp_path).glob("damaged-*/state.sqlite3"))  # the original is kept aside
    finally:
        sb.stop()
    sb = _sandbox(tmp_path)  # and the next start needs no --salvage
    sb.stop()


def test_two_sandboxes_never_share_a_state_directory(tmp_path):
    sb = _sandbox(tmp_path)
    try:
        with pytest.raises(StateError, match="in use by another sandbox"):
            StateStore(tmp_path).open()
    finally:
        sb.stop()


def test_fresh_and_reset_start_empty(tmp_path):
    _kept_state(tmp_path)
    out = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "run_local.py"), "reset", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and f"Deleted the state kept in {tmp_path}" in out.stdout
    sb = _sandbox(tmp_path)
    try:
        assert not sb.restored
        assert sb.s3.list_objects_v2(Bucket=sb.config.source_bucket).get("KeyCount") == 0
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="x.txt", Body=b"x")
    finally:
        sb.stop()
    sb = _sandbox(tmp_path, fresh=True)
    try:
        assert not sb.restored and sb.s3.list_objects_v2(Bucket=sb.config.source_bucket).get("KeyCount") == 0
    finally:
        sb.stop()


def test_a_multipart_upload_by_the_aws_cli_survives_and_fires_once(tmp_path, aws_cli_env):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over the CLI's 8 MB threshold: a multipart upload
    state = tmp_path / "state"
    sb = _sandbox(state)
    try:
        env = {**aws_cli_env, **sb.client_environment()}
        subprocess.run(
            [*aws_command(), "s3", "cp", str(big), f"s3://{sb.config.source_bucket}/big.bin"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        wait_for_record(sb, lambda r: r.final and r.subject.get("key") == "big.bin", what="its event")
        settle(sb)
    finally:
        sb.stop()
    sb = _sandbox(state)
    try:
        got = sb.s3.get_object(Bucket=sb.config.source_bucket, Key="big.bin")["Body"].read()
        assert got == big.read_bytes()
        assert sb.s3.list_multipart_uploads(Bucket=sb.config.source_bucket).get("Uploads", []) == []
        assert len([r for r in sb.invocations() if r.subject.get("key") == "big.bin"]) == 1
    finally:
        sb.stop()


def test_apis_and_scheduled_rules_work_after_a_restart(tmp_path):
    import urllib.request

    sb = _sandbox(tmp_path)
    try:
        lam = sb.client("lambda")
        lam.create_function(
            FunctionName="Hello",
            Runtime="python3.12",
            Role=sb.function.role_arn,
            Handler="app.handler",
            Code={
                "ZipFile": _zip(
                    {
                        "app.py": "def handler(event, context):\n    return {'statusCode': 200, "
                        "'body': 'hi ' + event.get('rawPath', event.get('source', ''))}\n"
                    }
                )
            },
        )
        arn = lam.get_function(FunctionName="Hello")["Configuration"]["FunctionArn"]
        api = sb.client("apigatewayv2").create_api(Name="hello", ProtocolType="HTTP", Target=arn)
        events = sb.client("events")
        events.put_rule(Name="every-5-minutes", ScheduleExpression="rate(5 minutes)")
        events.put_targets(Rule="every-5-minutes", Targets=[{"Id": "1", "Arn": arn}])
        before = {s["name"]: s["next_fire_at"] for s in sb.schedules()}
    finally:
        sb.stop()
    sb = _sandbox(tmp_path)
    try:
        # the $default stage: no stage in the path
        url = f"{sb.endpoint_url}/_aws/execute-api/{api['ApiId']}/there"
        with urllib.request.urlopen(url) as response:
            assert response.read() == b"hi /there"
        after = {s["name"]: s["next_fire_at"] for s in sb.schedules()}
        assert after == before  # rate() counts from the rule's creation, not from the restart
        fired = sb.fire_rule("every-5-minutes")
        record = wait_for_record(
            sb, lambda r: r.final and r.request_id == fired[0].request_id, what="the rule"
        )
        assert record.status == "success" and record.result["body"] == "hi aws.events"
    finally:
        sb.stop()


def test_a_state_caught_mid_run_replays_the_log_writes_it_had_not_folded(tmp_path):
    """A copy of the database taken while the sandbox runs is what a crash leaves: the log lines are still
    appended requests (a clean stop folds them). They are replayed into CloudWatch Logs and the page."""
    import shutil

    sb = _sandbox(tmp_path / "live")
    try:
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="logged.jpg", Body=IMAGE)
        record = wait_for_record(
            sb, lambda r: r.final and r.subject.get("key") == "logged.jpg", what="resize"
        )
        group = f"/aws/lambda/{sb.function.function_name}"
        logs = sb.client("logs")
        written = eventually(
            lambda: [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]],
            lambda messages: any(m.startswith("REPORT") for m in messages),
            what="the REPORT line",
        )
        assert sb.persistence.store.counts()["appends"] > 0
        sb.persistence.store.copy_to(tmp_path / "crashed" / "state.sqlite3")
        shutil.copytree(tmp_path / "live" / "files", tmp_path / "crashed" / "files")
    finally:
        sb.stop()
    sb = _sandbox(tmp_path / "crashed")
    try:
        assert "log and metric batches" in sb.persistence.describe()
        replayed = [e["message"] for e in sb.client("logs").filter_log_events(logGroupName=group)["events"]]
        assert replayed == written
        assert [e.message for e in sb.log_events(request_id=record.request_id)][-1].startswith("REPORT")
        assert sb.persistence.store.counts()["appends"] == 0  # folded: the next start replays nothing
    finally:
        sb.stop()


def test_the_metrics_the_monitor_tab_graphs_come_back_with_the_state(tmp_path):
    sb = _sandbox(tmp_path)
    try:
        name = sb.function.function_name
        sb.invoke({"Records": []})
        sb.metrics.flush()
        before = sb.metrics.datapoints(name)
    finally:
        sb.stop()
    assert {"Invocations", "Duration"} <= {metric for _, metric, _ in before}

    sb = _sandbox(tmp_path)
    try:
        after = sb.metrics.datapoints(sb.function.function_name)
        assert [(metric, value) for _, metric, value in after] == [(m, v) for _, m, v in before]
        assert [t for t, _, _ in after] == pytest.approx([t for t, _, _ in before], abs=0.001)
    finally:
        sb.stop()
