"""The Test tab's routes through the real WebServer over HTTP, over a real sandbox: the templates are
generate-event's, saved events are listed, loaded and deleted, Invoke runs through the Lambda API and
answers with the result, the log lines, the figures and the five stages; and every route keeps the page's
local-only rules (POST with the page's token, no foreign Origin, Host or cross-site fetch)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests

from helpers.paths import HANDLERS, PROJECT_ROOT, RUN_LOCAL, SAMPLES
from helpers.runtimes import create_function
from helpers.sandboxes import start_sandbox
from web.app import create_app
from web.server import WebServer

FUNCTION = "ImageResizeLambda"
FAULTS = "FaultsFunction"


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(maximum_retry_attempts=0)
    create_function(
        sandbox,
        FAULTS,
        "python3.12",
        "lambda_function.lambda_handler",
        {"lambda_function.py": (HANDLERS / "faults" / "lambda_function.py").read_text()},
    )
    sandbox.client("s3").upload_file(str(SAMPLES / "test.jpg"), sandbox.config.source_bucket, "test.jpg")
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def server(sb):
    server = WebServer(create_app(sb), port=0).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base(server) -> str:
    return server.url.rstrip("/")


@pytest.fixture(scope="module")
def token(base) -> str:
    html = requests.get(base + "/", timeout=30).text
    return re.search(r'name="sandbox-token" content="([^"]+)"', html).group(1)


def post(base, token, path, body=None, **headers):
    """A POST as the page sends it: JSON, its token, its own Origin."""
    sent = {"X-Sandbox-Token": token, "Origin": base, "Sec-Fetch-Site": "same-origin", **headers}
    return requests.post(base + path, json=body if body is not None else {}, headers=sent, timeout=120)


# -- templates ---------------------------------------------------------------------------------------------
def test_every_generate_event_kind_is_a_template_with_the_same_event(base, capsys):
    from sandbox.cli import main

    kinds = [t["kind"] for t in requests.get(base + "/api/test/templates", timeout=30).json()["templates"]]
    help_text = subprocess.run(
        [sys.executable, str(RUN_LOCAL), "generate-event", "--help"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    ).stdout
    assert kinds and "{" + ",".join(kinds) + "}" in help_text
    for kind in kinds:  # the command's own function, in this process: the event is the point here
        event = requests.get(f"{base}/api/test/templates/{kind}", timeout=30).json()["event"]
        assert main(["generate-event", kind]) == 0
        assert _shape(event) == _shape(json.loads(capsys.readouterr().out)), kind


def _shape(value):
    """The keys of an event at every depth (ids and times differ from one event to the next)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_an_unknown_template_is_a_404_naming_the_known_ones(base):
    response = requests.get(base + "/api/test/templates/kinesis-get-records", timeout=30)
    assert response.status_code == 404
    assert "s3-put" in response.json()["error"]


# -- saved events ----------------------------------------------------------------------------------------
def test_a_saved_event_is_listed_loaded_replaced_and_deleted_per_function(base, token):
    event = {"Records": [{"note": "<script>alert(1)</script>"}]}
    saved = post(base, token, f"/api/test/events/{FUNCTION}", {"name": "resize_one-2", "event": event})
    assert saved.status_code == 200, saved.text
    assert [e["name"] for e in saved.json()["events"]] == ["resize_one-2"]
    assert saved.json()["persistent"] is False  # no state directory: kept in memory
    assert requests.get(f"{base}/api/test/events/{FAULTS}", timeout=30).json()["events"] == []
    loaded = requests.get(f"{base}/api/test/events/{FUNCTION}/resize_one-2", timeout=30).json()
    assert loaded == {"name": "resize_one-2", "event": event}

    post(base, token, f"/api/test/events/{FUNCTION}", {"name": "resize_one-2", "event": [1, 2]})
    replaced = requests.get(f"{base}/api/test/events/{FUNCTION}/resize_one-2", timeout=30).json()
    assert replaced["event"] == [1, 2]

    deleted = post(base, token, f"/api/test/events/{FUNCTION}/resize_one-2/delete")
    assert deleted.status_code == 200 and deleted.json()["events"] == []
    gone = requests.get(f"{base}/api/test/events/{FUNCTION}/resize_one-2", timeout=30)
    assert gone.status_code == 404 and "no saved test event" in gone.json()["error"]


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Give the event a name"),
        ("a" * 26, "26 characters long; at most 25"),
        ("my event", "only letters, digits, - and _"),
        ("../etc", "only letters, digits, - and _"),
    ],
)
def test_a_name_the_console_would_refuse_is_refused_with_its_reason(base, token, name, message):
    response = post(base, token, f"/api/test/events/{FUNCTION}", {"name": name, "event": {}})
    assert response.status_code == 400 and message in response.json()["error"]


def test_a_body_that_is_not_json_or_too_large_gets_one_clear_4xx(base, token):
    headers = {"X-Sandbox-Token": token, "Origin": base, "Content-Type": "application/json"}
    bad = requests.post(f"{base}/api/test/events/{FUNCTION}", data="{nope", headers=headers, timeout=30)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    big = json.dumps({"name": "big", "event": "x" * (6 * 1024 * 1024)})
    too_large = requests.post(f"{base}/api/test/invoke/{FUNCTION}", data=big, headers=headers, timeout=30)
    assert too_large.status_code == 413 and "at most 6 MB" in too_large.json()["error"]
    no_event = post(base, token, f"/api/test/invoke/{FUNCTION}", {"name": "x"})
    assert no_event.status_code == 400 and '"event"' in no_event.json()["error"]
    unknown = post(base, token, "/api/test/invoke/NoSuchFunction", {"event": {}})
    assert unknown.status_code == 404 and "No function 'NoSuchFunction'" in unknown.json()["error"]


# -- the page's rules ---------------------------------------------------------------------------------------
CHANGING = [f"/api/test/events/{FUNCTION}", f"/api/test/invoke/{FUNCTION}"]


@pytest.mark.parametrize("path", CHANGING)
def test_a_change_or_an_invoke_is_refused_without_the_token_from_another_origin_or_site(
    sb, base, token, path
):
    body = {"name": "refused", "event": {"Records": []}}
    before = len(sb.records.all())
    missing = requests.post(base + path, json=body, headers={"Origin": base}, timeout=30)
    assert missing.status_code == 403 and "token is missing" in missing.json()["error"]
    foreign = post(base, token, path, body, Origin="http://attacker.example")
    assert foreign.status_code == 403 and "Cross-origin" in foreign.json()["error"]
    cross_site = post(base, token, path, body, **{"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403 and "Cross-site" in cross_site.json()["error"]
    rebinding = post(base, token, path, body, Host="attacker.example")
    assert rebinding.status_code == 400 and "DNS-rebinding" in rebinding.json()["error"]
    # a GET never saves or invokes: on the events' path it lists them
    got = requests.get(base + path, params={"name": "refused", "event": "{}"}, timeout=30)
    assert got.status_code == (405 if "invoke" in path else 200)
    assert len(sb.records.all()) == before
    assert "refused" not in json.dumps(requests.get(f"{base}/api/test/events/{FUNCTION}", timeout=30).json())


def test_a_delete_is_a_post_with_the_token(base, token):
    post(base, token, f"/api/test/events/{FUNCTION}", {"name": "kept", "event": {}})
    path = f"/api/test/events/{FUNCTION}/kept/delete"
    assert requests.get(base + path, timeout=30).status_code == 405
    assert requests.post(base + path, headers={"Origin": base}, timeout=30).status_code == 403
    listed = requests.get(f"{base}/api/test/events/{FUNCTION}", timeout=30).json()["events"]
    names = [e["name"] for e in listed]
    assert "kept" in names
    assert post(base, token, path).status_code == 200


# -- invoke ----------------------------------------------------------------------------------------------
def test_invoke_runs_the_function_through_the_lambda_api_and_answers_with_its_logs_figures_and_stages(
    sb, base, token
):
    event = requests.get(f"{base}/api/test/templates/s3-put", timeout=30).json()["event"]
    answer = post(base, token, f"/api/test/invoke/{FUNCTION}", {"event": event}).json()
    assert answer["status"] == "Succeeded" and answer["function_error"] is None
    assert json.loads(answer["result"]["body"])["resized"] == 1
    record = sb.records.find(answer["request_id"])[0]
    assert (record.trigger, record.invocation_type) == ("invoke", "RequestResponse")
    platforms = [line["platform"] for line in answer["logs"]]
    assert platforms.index("START") < platforms.index("END") < platforms.index("REPORT")
    report = next(line for line in answer["logs"] if line["platform"] == "REPORT")
    assert f"RequestId: {answer['request_id']}" in report["message"] and "Duration:" in report["message"]
    assert answer["duration_ms"] > 0 and answer["billed_duration_ms"] >= 1
    assert answer["max_memory_used_mb"] > 0 and answer["memory_size_mb"] == record.memory_size_mb
    assert [s["stage"] for s in answer["guide_stages"]][-1] == "Response / result"
    assert all(s["reached"] for s in answer["guide_stages"])


def test_a_function_error_is_answered_as_failed_with_its_type_and_message(base, token):
    answer = post(base, token, f"/api/test/invoke/{FAULTS}", {"event": {"action": "raise"}}).json()
    assert answer["status"] == "Failed" and answer["function_error"] == "Unhandled"
    assert answer["result"]["errorType"] == "ValueError" and answer["result"]["errorMessage"] == "boom"
    assert any(line["platform"] == "REPORT" for line in answer["logs"])
    assert "ValueError: boom" in answer["guide_stages"][-1]["note"]
    assert answer["guide_stages"][0]["note"] == "an event sent with Invoke"  # no event source told of it
