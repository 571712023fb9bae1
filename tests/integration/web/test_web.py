"""The page's server (web/): views, the security points and errors, through Flask's test client over a real
sandbox (moto over HTTP on a free port, real workers), plus the WebServer on a real socket."""

from __future__ import annotations

import http.client
import io
import json
import re
import shutil
import socket
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from helpers.page import BASE, PORT, local_app
from helpers.paths import HANDLERS, PROJECT_ROOT, SAMPLES
from helpers.sandboxes import start_sandbox
from helpers.waiting import eventually, wait_for_record
from sandbox.errors import SandboxError
from sandbox.event_sources.s3.source import s3_object
from sandbox.lambda_.invocation import InvocationRecord
from web.app import create_app
from web.gallery import gallery_item
from web.handler_settings import parse_settings_table, read_handler_settings
from web.server import WebServer, serve

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"
HOSTILE_KEY = "<img src=x onerror=alert(1)>.jpg"


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sb():
    """One real sandbox for the module. No retries, so an event that fails is dead-lettered at once."""
    sandbox = start_sandbox(maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def app(sb):
    return local_app(sb)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(app):
    return app.extensions["sandbox_web_token"]


def post(client, token, url, **kwargs):
    headers = {
        "X-Sandbox-Token": token,
        "Origin": BASE,
        "Sec-Fetch-Site": "same-origin",
        **kwargs.pop("headers", {}),
    }
    return client.post(url, headers=headers, **kwargs)


def upload(client, token, name, data, content_type="image/jpeg"):
    return post(
        client,
        token,
        "/api/upload",
        data={"file": (io.BytesIO(data), name, content_type)},
        content_type="multipart/form-data",
    )


def jpeg(size=(64, 48), color=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def restore_configuration(client, token):
    response = post(client, token, "/api/config", json={"memory_size": 128, "timeout": 3, "environment": {}})
    assert response.status_code == 200, response.json


# -- the page ------------------------------------------------------------------------------------------
def test_page_serves_every_asset_locally_and_embeds_the_token(client, token):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'content="{token}"' in html
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    # the page's own files, and the gallery's first page it preloads
    assert assets and all(a.startswith(("/static/", "/api/gallery?")) for a in assets), assets
    assert "http://" not in "".join(assets) and "https://" not in "".join(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    # every module the page imports is served too (no CDN, no build step)
    js = PROJECT_ROOT / "web/static/web/js"
    for module in js.glob("*.js"):
        for imported in re.findall(r'from "\./([^"]+)"', module.read_text()):
            assert (js / imported).is_file(), f"{module.name} imports missing {imported}"
            assert client.get(f"/static/web/js/{imported}").status_code == 200


def test_page_allows_only_its_own_scripts(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # no inline script at all: every <script> has a src
    html = response.get_data(as_text=True)
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


def test_front_end_never_writes_data_as_html():
    js = PROJECT_ROOT / "web/static/web/js"
    for module in js.glob("*.js"):
        source = module.read_text()
        for sink in (
            r"\.(innerHTML|outerHTML)\s*\+?=",
            r"insertAdjacentHTML\(",
            r"document\.write",
            r"\beval\(",
            r"new Function\(",
            r"createContextualFragment",
        ):
            assert not re.search(sink, source), f"{module.name} uses {sink}"


# -- Host header and origin checks ---------------------------------------------------------------------
def test_request_through_dns_rebinding_gets_400(client):
    response = client.get("/api/state", headers={"Host": f"attacker.example:{PORT}"})
    assert response.status_code == 400
    assert "DNS-rebinding" in response.json["error"]
    assert client.get("/", headers={"Host": f"attacker.example:{PORT}"}).status_code == 400


@pytest.mark.parametrize(
    "host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}", f"LOCALHOST:{PORT}"]
)
def test_loopback_names_on_the_served_port_are_accepted(client, host):
    assert client.get("/api/state", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["127.0.0.1:9999", "localhost", "127.0.0.1.nip.io:8000", "", "127.0.0.1:80x"]
)
def test_other_ports_and_names_are_refused(client, host):
    assert client.get("/api/state", headers={"Host": host}).status_code == 400


def test_configured_host_is_accepted(sb):
    app = create_app(sb, {"WEB_PORT": PORT, "ALLOWED_HOSTS": ["sandbox.lan"]})
    client = app.test_client()
    assert client.get("/api/state", headers={"Host": f"sandbox.lan:{PORT}"}).status_code == 200
    assert client.get("/api/state", headers={"Host": f"other.lan:{PORT}"}).status_code == 400


def test_state_change_without_the_token_is_refused(client):
    response = client.post("/api/upload-samples", headers={"Origin": BASE})
    assert response.status_code == 403
    assert "token" in response.json["error"]


def test_state_change_with_a_wrong_token_is_refused(client):
    response = client.post("/api/config", json={"memory_size": 256}, headers={"X-Sandbox-Token": "guess"})
    assert response.status_code == 403


def test_state_change_from_another_origin_is_refused(client, token):
    response = post(
        client, token, "/api/config", json={"memory_size": 256}, headers={"Origin": "http://attacker.example"}
    )
    assert response.status_code == 403
    assert "Cross-origin" in response.json["error"]


def test_state_change_from_a_cross_site_fetch_is_refused(client, token):
    response = post(
        client, token, "/api/dead-letters/redrive", json={}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403


def test_get_requests_need_no_token(client):
    assert client.get("/api/state").status_code == 200


# -- uploads -------------------------------------------------------------------------------------------
def test_upload_goes_into_the_source_bucket_and_the_gallery_shows_the_pair(sb, client, token):
    data = (SAMPLES / "test.jpg").read_bytes()
    response = upload(client, token, "web test.jpg", data)
    assert response.status_code == 200, response.json
    assert response.json["uploaded"] == [
        {
            "bucket": SOURCE,
            "key": "web test.jpg",
            "bytes": len(data),
            "etag": response.json["uploaded"][0]["etag"],
        }
    ]
    # it took the S3 path: the object is in the bucket and S3 invoked the function
    assert sb.s3.head_object(Bucket=SOURCE, Key="web test.jpg")["ContentLength"] == len(data)
    record = sb.wait_for_key("web test.jpg", timeout=60)
    assert record.status == "success", record.result
    assert record.event["Records"][0]["s3"]["object"]["key"] == "web+test.jpg"

    item = next(i for i in client.get("/api/gallery").json["items"] if i["key"] == "web test.jpg")
    assert item["status"] == "done"
    assert (item["source"]["width"], item["source"]["height"]) == (1600, 1200)
    assert item["source"]["bytes"] == len(data)
    assert item["resized"]["key"] == "resized-web test.jpg"
    assert (item["resized"]["width"], item["resized"]["height"]) == (800, 600)
    assert 0 < item["saving_pct"] < 100
    assert item["request_id"] == record.request_id

    image = client.get("/api/object", query_string={"bucket": DEST, "key": "resized-web test.jpg"})
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(image.data)).size == (800, 600)


def test_several_files_in_one_request_are_all_uploaded(sb, client, token):
    response = post(
        client,
        token,
        "/api/upload",
        content_type="multipart/form-data",
        data={"file": [(io.BytesIO(jpeg()), "multi-a.jpg"), (io.BytesIO(jpeg()), "multi-b.jpg")]},
    )
    assert response.status_code == 200
    assert [u["key"] for u in response.json["uploaded"]] == ["multi-a.jpg", "multi-b.jpg"]
    for key in ("multi-a.jpg", "multi-b.jpg"):
        assert sb.wait_for_key(key, timeout=60).status == "success"


def test_upload_over_the_limit_gets_413_with_a_readable_message(sb):
    app = local_app(sb, MAX_UPLOAD_BYTES=1000)
    client = app.test_client()
    token = app.extensions["sandbox_web_token"]
    body = b"x" * 5000  # over the file limit, under the request limit (limit + multipart overhead)
    response = post(
        client,
        token,
        "/api/upload",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(body), "big.jpg")},
    )
    assert response.status_code == 413
    assert "over the page's upload limit" in response.json["error"]
    assert "--max-upload-mb" in response.json["error"]
    body = b"x" * 200_000  # over the whole request's limit: refused before it is read
    response = post(
        client,
        token,
        "/api/upload",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(body), "bigger.jpg")},
    )
    assert response.status_code == 413
    assert "--max-upload-mb" in response.json["error"]
    keys = [o["Key"] for o in sb.s3.list_objects_v2(Bucket=SOURCE).get("Contents", [])]
    assert "big.jpg" not in keys and "bigger.jpg" not in keys


def test_default_upload_limit_is_25_mb(sb):
    assert create_app(sb).config["MAX_UPLOAD_BYTES"] == 25 * 1024 * 1024


@pytest.mark.parametrize("limit", [0, -1, "25"])
def test_a_limit_that_is_not_a_positive_size_is_refused_in_one_sentence(sb, limit):
    with pytest.raises(SandboxError, match="--max-upload-mb"):
        create_app(sb, {"MAX_UPLOAD_BYTES": limit})


def test_upload_without_a_file_gets_400(client, token):
    response = post(client, token, "/api/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose at least one image" in response.json["error"]


def test_file_name_with_control_characters_gets_400(client, token):
    response = upload(client, token, "bad\x07name.jpg", jpeg())
    assert response.status_code == 400
    assert "control characters" in response.json["error"]


def test_sample_button_uploads_every_jpg_png_and_gif_of_the_folder(sb, tmp_path):
    for name in ("one.jpg", "two.png"):
        shutil.copy(SAMPLES / "pixel.png", tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    app = local_app(sb, SAMPLE_IMAGES_DIR=tmp_path)
    response = post(app.test_client(), app.extensions["sandbox_web_token"], "/api/upload-samples")
    assert response.status_code == 200
    assert [u["key"] for u in response.json["uploaded"]] == ["one.jpg", "two.png"]
    for key in ("one.jpg", "two.png"):
        assert sb.wait_for_key(key, timeout=60) is not None


def test_sample_button_uses_the_projects_sample_images_by_default(sb):
    folder = Path(create_app(sb).config["SAMPLE_IMAGES_DIR"])
    assert (folder / "test.jpg").is_file()


def test_sample_button_without_samples_says_where_it_looked(sb, tmp_path):
    app = local_app(sb, SAMPLE_IMAGES_DIR=tmp_path / "missing")
    response = post(app.test_client(), app.extensions["sandbox_web_token"], "/api/upload-samples")
    assert response.status_code == 404
    assert "missing" in response.json["error"]


# -- keys are data, never paths or markup --------------------------------------------------------------
@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini"])
def test_keys_that_look_like_paths_are_only_s3_keys(sb, client, key):
    assert client.get("/api/object", query_string={"bucket": SOURCE, "key": key}).status_code == 404
    sb.s3.put_object(Bucket=SOURCE, Key=key, Body=b"stored in S3")
    response = client.get("/api/object", query_string={"bucket": SOURCE, "key": key})
    assert response.status_code == 200
    assert response.data == b"stored in S3"
    assert response.mimetype == "application/octet-stream"


def test_objects_are_served_as_inert_bytes(sb, client):
    sb.s3.put_object(
        Bucket=SOURCE, Key="page.html", Body=b"<script>alert(1)</script>", ContentType="text/html"
    )
    response = client.get("/api/object", query_string={"bucket": SOURCE, "key": "page.html"})
    assert response.mimetype == "application/octet-stream"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_only_the_sandbox_buckets_are_readable(client):
    response = client.get("/api/object", query_string={"bucket": "some-other-bucket", "key": "x.jpg"})
    assert response.status_code == 404
    assert "source and destination buckets" in response.json["error"]


def test_hostile_key_travels_as_json_data(sb, client):
    sb.s3.put_object(Bucket=SOURCE, Key=HOSTILE_KEY, Body=jpeg())
    record = sb.wait_for_key(HOSTILE_KEY, timeout=60)
    assert record is not None
    response = client.get("/api/gallery")
    assert response.mimetype == "application/json"
    assert HOSTILE_KEY in [i["key"] for i in response.json["items"]]
    # the HTML page itself never contains data
    assert "onerror" not in client.get("/").get_data(as_text=True)


# -- invocations and logs ------------------------------------------------------------------------------
def test_invocations_table_and_one_invocation_in_full(sb, client, token):
    upload(client, token, "detail.jpg", jpeg())
    record = sb.wait_for_key("detail.jpg", timeout=60)
    rows = client.get("/api/invocations").json["invocations"]
    row = next(r for r in rows if r["request_id"] == record.request_id)
    assert row["key"] == "detail.jpg"
    assert row["status"] == "success" and row["retry"] == 0
    assert isinstance(row["cold_start"], bool) and row["environment_id"]
    assert row["duration_ms"] > 0 and row["billed_duration_ms"] >= 1
    assert row["max_memory_used_mb"] > 0 and row["cost_usd"] > 0

    detail = client.get(f"/api/invocations/{record.request_id}/1").json
    assert detail["event"]["Records"][0]["s3"]["object"]["key"] == "detail.jpg"
    assert [s["stage"] for s in detail["stages"]] == [
        "Event detection",
        "Execution environment allocation",
        "Code execution",
        "Logging",
        "Response",
    ]
    assert all(s["ms"] is not None for s in detail["stages"])
    own = [line for line in detail["logs"] if line["request_id"] == record.request_id]
    assert own[0]["platform"] == "START" and [line["platform"] for line in own[-2:]] == ["END", "REPORT"]
    # a cold start also shows its environment's INIT phase (lines without a request id, before START)
    init = [line for line in detail["logs"] if line["request_id"] is None]
    assert bool(init) == record.cold_start
    assert detail["logs"] == init + own
    if init:
        assert init[0]["platform"] == "INIT_START"


def test_unknown_invocation_gets_404(client):
    response = client.get("/api/invocations/no-such-request/1")
    assert response.status_code == 404
    assert "no-such-request" in response.json["error"]


def test_log_viewer_streams_filter_and_tail(sb, client, token):
    upload(client, token, "logs.jpg", jpeg())
    record = sb.wait_for_key("logs.jpg", timeout=60)
    streams = client.get("/api/logs/streams").json
    assert streams["group"] == "/aws/lambda/ImageResizeLambda"
    names = [s["name"] for s in streams["streams"]]
    assert record.log_stream in names
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", record.log_stream)
    assert {s["state"] for s in streams["streams"]} <= {"idle", "busy", "ended"}

    everything = client.get("/api/logs/events").json
    assert everything["events"] and everything["last_seq"] == everything["events"][-1]["seq"]
    reports = client.get("/api/logs/events", query_string={"filter": "report requestid"}).json["events"]
    assert reports and all(e["message"].startswith("REPORT") and e["platform"] == "REPORT" for e in reports)
    one_stream = client.get("/api/logs/events", query_string={"stream": record.log_stream}).json["events"]
    assert one_stream and {e["stream"] for e in one_stream} == {record.log_stream}
    tail = client.get("/api/logs/events", query_string={"after": everything["last_seq"]}).json
    assert all(e["seq"] > everything["last_seq"] for e in tail["events"])


def test_error_lines_are_marked_for_highlighting(sb, client, token):
    upload(client, token, "not-an-image.jpg", b"this is text, not a JPEG")
    record = sb.wait_for_key("not-an-image.jpg", timeout=60)
    lines = client.get("/api/logs/events", query_string={"request_id": record.request_id}).json["events"]
    errors = [e for e in lines if e["kind"] == "error"]
    assert errors and all(e["message"].startswith("[ERROR]") for e in errors)
    item = next(i for i in client.get("/api/gallery").json["items"] if i["key"] == "not-an-image.jpg")
    assert item["status"] == "failed" and "not an image" in item["reason"]


@pytest.mark.parametrize("query", ["after=-1", "after=abc", "limit=0", "limit=999999"])
def test_bad_log_query_gets_400(client, query):
    response = client.get(f"/api/logs/events?{query}")
    assert response.status_code == 400
    assert response.json["error"].startswith("'")


# -- configuration -------------------------------------------------------------------------------------
def test_configuration_lists_the_handlers_settings_with_defaults(client):
    data = client.get("/api/config").json
    assert data["function"]["memory_size"] == 128 and data["function"]["timeout"] == 3
    settings = {s["name"]: s for s in data["handler_settings"]}
    assert settings["RESIZE_SCALE"]["default"] == "0.5"
    assert settings["DESTINATION_BUCKET"]["default"] == DEST
    assert settings["OUTPUT_FORMAT"]["choices"] == ["JPEG", "PNG", "WEBP", "AUTO"]
    assert settings["MAX_WIDTH"]["default"] == ""
    assert "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" not in settings  # Lambda sets it; not editable
    assert data["limits"] == {"memory_min": 128, "memory_max": 10240, "timeout_min": 1, "timeout_max": 900}


def test_saving_configuration_changes_the_function_and_the_next_invocation_is_cold(sb, client, token):
    upload(client, token, "warm-up.jpg", jpeg())
    sb.wait_for_key("warm-up.jpg", timeout=60)
    try:
        response = post(
            client,
            token,
            "/api/config",
            json={
                "memory_size": "256",
                "timeout": 5,
                "environment": {"OUTPUT_QUALITY": "60", "MAX_WIDTH": ""},
            },
        )
        assert response.status_code == 200, response.json
        assert "cold start" in response.json["message"]
        assert sb.function.memory_size == 256 and sb.function.timeout == 5
        assert sb.function.environment == {"OUTPUT_QUALITY": "60"}  # empty = removed, as in the console
        assert (
            sb.client("lambda").get_function_configuration(FunctionName="ImageResizeLambda")["MemorySize"]
            == 256
        )
        upload(client, token, "after-save.jpg", jpeg())
        record = sb.wait_for_key("after-save.jpg", timeout=60)
        assert record.status == "success"
        assert record.cold_start is True and record.memory_size_mb == 256
        detail = client.get(f"/api/invocations/{record.request_id}/1").json
        heads = [line["platform"] for line in detail["logs"]]
        assert heads[0] == "INIT_START" and heads.index("START") > 0 and heads[-1] == "REPORT"
        assert "Init Duration" in detail["logs"][-1]["message"]
    finally:
        restore_configuration(client, token)
    assert sb.function.memory_size == 128


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"memory_size": 64}, "Memory"),
        ({"memory_size": "lots"}, "Memory must be a whole number"),
        ({"timeout": 901}, "Timeout"),
        ({"timeout": 2.5}, "Timeout must be a whole number"),
        ({"environment": {"AWS_REGION": "eu-west-1"}}, "reserved"),
        ({"environment": {"RESIZE_SCALE": 2}}, "text values"),
        ({"environment": ["RESIZE_SCALE"]}, "text values"),
        ({"handler": "x.y"}, "memory_size, timeout and environment"),
        ({}, "Nothing to change"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_configuration_gets_400_with_one_sentence(sb, client, token, body, expected):
    before = sb.function
    response = post(client, token, "/api/config", json=body)
    assert response.status_code == 400
    assert expected in response.json["error"]
    assert "Traceback" not in response.json["error"]
    assert (sb.function.memory_size, sb.function.timeout, sb.function.environment) == (
        before.memory_size,
        before.timeout,
        before.environment,
    )


def test_configuration_that_is_not_json_gets_400(client, token):
    response = post(client, token, "/api/config", data="memory=256", content_type="text/plain")
    assert response.status_code == 400


# -- cost ----------------------------------------------------------------------------------------------
def test_cost_for_the_session_and_a_projection(sb, client, token):
    upload(client, token, "cost.jpg", jpeg())
    sb.wait_for_key("cost.jpg", timeout=60)
    data = client.get("/api/cost", query_string={"images": 1_000_000}).json
    session = data["session"]
    assert session["requests"] == sb.cost.requests >= 1
    assert session["gb_seconds"] > 0
    assert session["usd"] == pytest.approx(session["request_usd"] + session["compute_usd"])
    assert session["usd_free_tier"] == 0  # a session is far inside the free tier
    projection = data["projection"]
    assert projection["images"] == 1_000_000 and data["cold_pct"] == 1.0
    assert projection["cold_starts"] == pytest.approx(10_000)
    assert projection["gb_seconds"] == pytest.approx(
        1_000_000
        * (projection["warm_billed_ms"] + 0.01 * projection["init_ms"])
        / 1000
        * projection["memory_mb"]
        / 1024
    )
    assert projection["usd"] > projection["usd_free_tier"] >= 0


@pytest.mark.parametrize("images", ["-1", "many", "1e3"])
def test_bad_projection_input_gets_400(client, images):
    response = client.get("/api/cost", query_string={"images": images})
    assert response.status_code == 400
    assert "images" in response.json["error"]


# -- dead letters --------------------------------------------------------------------------------------
def test_failed_event_is_listed_as_a_dead_letter_and_redrive_runs_it_again(sb, client, token):
    try:
        # A setting the handler refuses at INIT: every invocation fails, and with no retries the event
        # goes straight to the dead-letter queue.
        response = post(client, token, "/api/config", json={"environment": {"RESIZE_SCALE": "2"}})
        assert response.status_code == 200
        upload(client, token, "dead.jpg", jpeg())
        failed = wait_for_record(
            sb,
            lambda r: s3_object(r) == (SOURCE, "dead.jpg") and r.status == "dead-lettered",
            what="dead.jpg's event to be dead-lettered",
        )
        assert "RESIZE_SCALE" in failed.error_message
        item = next(i for i in client.get("/api/gallery").json["items"] if i["key"] == "dead.jpg")
        assert item["status"] == "failed" and "dead-letter queue" in item["reason"]
        row = next(
            r
            for r in client.get("/api/invocations").json["invocations"]
            if r["request_id"] == failed.request_id
        )
        assert row["status"] == "dead-lettered"

        messages = client.get("/api/dead-letters").json["messages"]
        letter = next(m for m in messages if m["request_id"] == failed.request_id)
        assert letter["key"] == "dead.jpg" and "RESIZE_SCALE" in letter["error_message"]
        eventually(
            lambda: client.get("/api/state").json["dead_letter_count"],
            lambda count: count >= 1,
            what="the page's dead-letter count to include it",
            interval=0.2,
        )
    finally:
        restore_configuration(client, token)

    response = post(client, token, "/api/dead-letters/redrive", json={"message_ids": [letter["message_id"]]})
    assert response.status_code == 200
    [redriven] = response.json["redriven"]
    assert redriven["key"] == "dead.jpg"
    again = wait_for_record(
        sb, lambda r: r.id == redriven["id"] and r.finished, what="the redriven event to run"
    )
    assert again.status == "success"
    remaining = client.get("/api/dead-letters").json["messages"]
    assert letter["message_id"] not in [m["message_id"] for m in remaining]


@pytest.mark.parametrize(
    "body, expected", [({"message_ids": "all"}, "list"), ({"message_ids": []}, "at least one")]
)
def test_bad_redrive_request_gets_400(client, token, body, expected):
    response = post(client, token, "/api/dead-letters/redrive", json=body)
    assert response.status_code == 400
    assert expected in response.json["error"]


# -- errors --------------------------------------------------------------------------------------------
def test_unknown_api_path_gets_a_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]


def test_wrong_method_gets_405_with_a_sentence(client, token):
    response = client.get("/api/upload")
    assert response.status_code == 405
    assert "GET is not allowed" in response.json["error"]


def test_state_counts_what_the_page_badges_show(sb, client):
    state = client.get("/api/state").json
    assert state["invocations"] == len(sb.invocations())
    assert state["records_version"] == sb.records.version
    assert state["log_seq"] >= 1
    assert state["revision"] == sb.function.revision


# -- pure parts ----------------------------------------------------------------------------------------
def test_settings_table_is_read_as_data_from_the_handlers_settings_module():
    settings = parse_settings_table('''"""Intro."""
SETTINGS = [
    {"name": "COLOUR", "default": "red", "allowed": "red, green", "choices": ["red", "green"],
     "meaning": "Which colour."},
    {"name": "SIZE", "default": "", "allowed": "whole number", "meaning": "How big."},
    {"name": "AWS_REGION", "default": "us-east-1", "allowed": "", "meaning": "Set by Lambda."},
]
DEFAULTS = {s["name"]: s["default"] for s in SETTINGS}
''')
    assert [(s.name, s.default, s.choices) for s in settings] == [
        ("COLOUR", "red", ["red", "green"]),
        ("SIZE", "", []),
    ]


def test_a_settings_table_that_is_not_a_literal_is_not_run():
    source = "import os\nos.remove('nothing-here')\nSETTINGS = [{'name': 'A', 'default': os.sep}]\n"
    assert parse_settings_table(source) == []


def test_handler_without_a_settings_table_gets_the_plain_editor():
    assert read_handler_settings(HANDLERS / "faults", "lambda_function.lambda_handler") == []
    assert read_handler_settings(HANDLERS / "missing", "lambda_function.lambda_handler") == []


def _record(key, status, attempt=1, result=None, error=None, trigger="s3"):
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": SOURCE},
                    "object": {"key": key.replace(" ", "+"), "size": 100, "eTag": "e"},
                },
            }
        ]
    }
    record = InvocationRecord(
        request_id=f"id-{key}",
        function_name="ImageResizeLambda",
        event=event,
        attempt=attempt,
        status=status,
        result=result,
        trigger=trigger,
        source="aws:s3",
        subject={"bucket": SOURCE, "key": key},
    )  # as the S3 source tells it
    if error:
        record.error_type, record.error_message = error
    return record


def test_gallery_status_follows_the_invocation():
    body = {
        "results": [
            {"bucket": SOURCE, "key": "rejected.jpg", "status": "rejected", "reason": "Not an image."}
        ]
    }
    ok = {
        "results": [
            {
                "bucket": SOURCE,
                "key": "a b.jpg",
                "status": "resized",
                "outputBucket": DEST,
                "outputKey": "resized-a b.jpg",
                "width": 5,
                "height": 4,
                "bytes": 40,
                "sourceWidth": 10,
                "sourceHeight": 8,
            }
        ]
    }
    records = [
        _record("queued.jpg", "pending"),
        _record("retry.jpg", "error", attempt=1, error=("ValueError", "boom")),
        _record("dead.jpg", "dead-lettered", attempt=3, error=("ValueError", "boom")),
        _record("rejected.jpg", "success", result={"statusCode": 200, "body": json.dumps(body)}),
        _record("a b.jpg", "success", result={"statusCode": 200, "body": json.dumps(ok)}),
    ]
    items = {r.subject["key"]: gallery_item(r, SOURCE, maximum_retry_attempts=2) for r in records}
    assert items["queued.jpg"]["status"] == "pending"
    assert items["retry.jpg"]["status"] == "retrying" and "boom" in items["retry.jpg"]["reason"]
    assert items["dead.jpg"]["status"] == "failed" and "dead-letter" in items["dead.jpg"]["reason"]
    assert items["rejected.jpg"]["status"] == "failed" and items["rejected.jpg"]["reason"] == "Not an image."
    assert items["rejected.jpg"]["resized"] is None
    done = items["a b.jpg"]
    assert done["status"] == "done" and done["saving_pct"] == 60.0
    assert done["source"] == {
        "bucket": SOURCE,
        "key": "a b.jpg",
        "bytes": 100,
        "etag": "e",
        "width": 10,
        "height": 8,
        "orientation": None,
    }
    assert done["resized"] == {
        "bucket": DEST,
        "key": "resized-a b.jpg",
        "width": 5,
        "height": 4,
        "bytes": 40,
        "version": "r-id-a b.jpg-1",
    }


# -- the server ----------------------------------------------------------------------------------------
def test_web_server_on_port_0_serves_the_page_and_checks_the_host(sb):
    server = WebServer(create_app(sb), port=0).start()
    try:
        assert server.port and server.url == f"http://127.0.0.1:{server.port}/"
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.status == 200 and b"sandbox-token" in response.read()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/api/state", headers={"Host": f"rebound.example:{server.port}"})
        assert connection.getresponse().status == 400
        connection.close()
    finally:
        server.stop()


def test_busy_port_raises_one_sentence_naming_the_port_and_the_flag(sb):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError) as excinfo:
            WebServer(create_app(sb), port=port).start()
    message = str(excinfo.value)
    assert str(port) in message and "--web-port" in message
    assert message.count(".") <= 2 and "\n" not in message


def test_serve_warns_when_the_page_listens_beyond_this_machine(sb):
    warnings = []
    server = serve(sb, host="0.0.0.0", port=0, warn=warnings.append)
    try:
        assert warnings and "0.0.0.0" in warnings[0] and "--host 127.0.0.1" in warnings[0]
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()
    quiet = []
    server = serve(sb, port=0, warn=quiet.append, max_upload_mb=2)
    try:
        assert quiet == [] and server.app.config["MAX_UPLOAD_BYTES"] == 2 * 1024 * 1024
    finally:
        server.stop()


def test_full_cpu_setting_on_the_page_switches_the_sandbox_and_back(sb, client, token):
    shown = client.get("/api/config").get_json()["cpu"]
    assert shown["full_cpu"] is False and shown["vcpu_share"] < 0.1  # 128 MB: about 7 % of a vCPU, as on AWS
    try:
        on = post(client, token, "/api/config/cpu", json={"full_cpu": True})
        assert on.status_code == 200 and on.get_json()["cpu"]["full_cpu"] is True
        assert sb.config.full_cpu is True and "full speed" in on.get_json()["message"]
        assert post(client, token, "/api/config/cpu", json={"full_cpu": "yes"}).status_code == 400
        assert (
            client.post(
                "/api/config/cpu", json={"full_cpu": False}, headers={"X-Sandbox-Token": "guess"}
            ).status_code
            == 403
        )  # same-origin rules hold
        assert sb.config.full_cpu is True
    finally:
        off = post(client, token, "/api/config/cpu", json={"full_cpu": False})
    assert off.status_code == 200 and sb.config.full_cpu is False


def test_triggers_tab_lists_every_trigger_and_refuses_to_fire_an_unknown_rule(sb, client, token):
    triggers = client.get("/api/triggers").get_json()["triggers"]
    s3 = next(t for t in triggers if t["kind"] == "S3 notification")
    assert s3["function"] == sb.function.function_name and s3["source"] == f"s3://{sb.config.source_bucket}"
    refused = post(client, token, "/api/triggers/fire", json={"name": "no-such-rule"})
    assert refused.status_code in (400, 404, 409) and "no-such-rule" in refused.get_json()["error"]
    assert post(client, token, "/api/triggers/fire", json={}).status_code == 400
