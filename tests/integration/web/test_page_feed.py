"""The page's change feed (web/feed/, /api/feed) and its paged, newest-first lists, against a real sandbox
and the real WebServer on a free port: what changed is pushed once to every open page, lists are read a
page at a time from the sandbox's own records, and the page's security rules hold for the stream too."""

from __future__ import annotations

import http.client
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from helpers.sandboxes import start_sandbox
from helpers.waiting import settle, wait_for_record
from web.app import create_app
from web.feed import feed_for
from web.server import WebServer

pytestmark = pytest.mark.slow

TIMEOUT_S = 60  # only the bound after which a read gives up


def jpeg(size=(64, 48), color=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(maximum_retry_attempts=0)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def server(sb):
    server = WebServer(create_app(sb), port=0).start()
    yield server
    server.stop()


class Stream:
    """One page's ``/api/feed``, read as the browser's EventSource reads it."""

    def __init__(self, port: int, headers: dict | None = None, query: str = ""):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        self.connection.request(
            "GET", "/api/feed" + query, headers={"Host": f"127.0.0.1:{port}", **(headers or {})}
        )
        self.response = self.connection.getresponse()

    def event(self) -> dict:
        """The next event: {"event", "id", "data", "raw"}; comments (keep-alives) are skipped."""
        fields, raw = {}, b""
        while True:
            line = self.response.readline()
            if not line:
                raise EOFError("the stream ended")
            raw += line
            text = line.decode().rstrip("\n")
            if not text:
                if "data" in fields:
                    return {
                        "event": fields.get("event", "message"),
                        "id": fields.get("id"),
                        "data": json.loads(fields["data"]),
                        "raw": raw,
                    }
                fields, raw = {}, b""
                continue
            name, _, value = text.partition(":")
            if name:
                fields[name] = value.lstrip(" ")

    def frame_where(self, predicate, what: str) -> dict:
        for _ in range(10_000):
            event = self.event()
            if event["event"] == "message" and predicate(event["data"]):
                return event
        raise AssertionError(f"no frame with {what}")

    def close(self):
        self.connection.close()


def gallery_item(frame: dict, key: str) -> dict | None:
    return next((item for item in frame.get("gallery", []) if item["key"] == key), None)


def done(key):
    return lambda frame: (gallery_item(frame, key) or {}).get("status") == "done"


def get(server, path: str, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{server.port}", **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


# -- the stream --------------------------------------------------------------------------------------
def test_feed_says_hello_then_pushes_an_upload_with_its_invocation_and_log_lines(sb, server):
    stream = Stream(server.port)
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type").startswith("text/event-stream")
        hello = stream.event()
        assert hello["event"] == "hello" and hello["data"]["reset"] is False
        assert set(hello["data"]["counts"]) == {
            "invocations",
            "running",
            "dead_lettered",
            "dead_letter_count",
        }
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="pushed.jpg", Body=jpeg())
        frame = stream.frame_where(done("pushed.jpg"), "pushed.jpg done")["data"]
    finally:
        stream.close()
    record = sb.wait_for_key("pushed.jpg")
    item = gallery_item(frame, "pushed.jpg")
    assert item["request_id"] == record.request_id
    assert item["resized"]["key"] == json.loads(record.result["body"])["results"][0]["outputKey"]
    assert frame["seq"] > hello["data"]["seq"]


def test_every_open_page_gets_the_same_frame_serialised_once(sb, server):
    streams = [Stream(server.port) for _ in range(3)]
    try:
        for stream in streams:
            stream.event()  # hello
        assert feed_for(sb).open_streams >= 3
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="shared.jpg", Body=jpeg())
        frames = [stream.frame_where(done("shared.jpg"), "shared.jpg done") for stream in streams]
    finally:
        for stream in streams:
            stream.close()
    assert len({frame["raw"] for frame in frames}) == 1  # byte for byte: one frame, written to each page


def test_a_page_that_reconnects_gets_what_it_missed_and_a_stale_id_gets_reset(sb, server):
    stream = Stream(server.port)
    stream.event()
    sb.s3.put_object(Bucket=sb.config.source_bucket, Key="before-drop.jpg", Body=jpeg())
    last = stream.frame_where(done("before-drop.jpg"), "before-drop.jpg done")["id"]
    keeper = Stream(server.port)  # another page stays open, so frames are kept for the one that dropped
    keeper.event()
    stream.close()
    sb.s3.put_object(Bucket=sb.config.source_bucket, Key="while-away.jpg", Body=jpeg())
    keeper.frame_where(done("while-away.jpg"), "while-away.jpg done")
    again = Stream(server.port, {"Last-Event-ID": last})
    stale = Stream(server.port, {"Last-Event-ID": "not-this-feed.7"})
    try:
        hello = again.event()
        assert hello["event"] == "hello" and hello["data"]["resumed"] is True
        again.frame_where(done("while-away.jpg"), "while-away.jpg done, replayed")
        hello = stale.event()
        assert hello["data"]["resumed"] is False and hello["data"]["reset"] is True
    finally:
        for s in (again, stale, keeper):
            s.close()


def test_stopping_the_page_server_ends_open_streams(sb):
    server = WebServer(create_app(sb), port=0).start()
    stream = Stream(server.port)
    stream.event()
    assert feed_for(sb).open_streams >= 1
    server.stop()
    with pytest.raises(EOFError):
        stream.frame_where(lambda frame: False, "nothing: the stream must end")
    stream.close()


def test_feed_refuses_a_rebound_host_and_answers_no_other_origin(sb, server):
    response, body = get(server, "/api/feed", {"Host": f"rebound.example:{server.port}"})
    assert response.status == 400 and b"DNS-rebinding" in body
    stream = Stream(server.port, {"Origin": "http://attacker.example"})
    try:
        assert stream.response.getheader("Access-Control-Allow-Origin") is None
        assert stream.response.getheader("Cache-Control") == "no-store"
    finally:
        stream.close()


# -- paged lists -------------------------------------------------------------------------------------
def upload_in_order(sb, keys):
    """Each upload processed before the next (a key uploaded again waits for its own new invocation)."""
    for key in keys:
        seen = {r.request_id for r in sb.records.all()}
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key=key, Body=jpeg())
        wait_for_record(
            sb,
            lambda r, key=key, seen=seen: (
                r.final and r.request_id not in seen and r.subject.get("key") == key
            ),
            what=f"{key} processed",
        )


def test_gallery_reads_newest_first_a_page_at_a_time_with_a_cursor(sb, server):
    keys = [f"paged/{i}.jpg" for i in range(5)]
    upload_in_order(sb, keys)
    seen, cursor = [], None
    while True:
        response, body = get(server, "/api/gallery?limit=2" + (f"&before={cursor}" if cursor else ""))
        page = json.loads(body)
        assert len(page["items"]) <= 2
        seen += [item["key"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert [key for key in seen if key.startswith("paged/")] == keys[::-1]
    assert len(seen) == len(set(seen)) == page["total"]


def test_a_new_upload_of_a_key_moves_it_to_the_top(sb, server):
    upload_in_order(sb, ["again-a.jpg", "again-b.jpg", "again-a.jpg"])
    items = json.loads(get(server, "/api/gallery?limit=2")[1])["items"]
    assert [item["key"] for item in items] == ["again-a.jpg", "again-b.jpg"]


def test_invocations_and_log_lines_read_newest_first_without_overlap(sb, server):
    upload_in_order(sb, [f"rows/{i}.jpg" for i in range(3)])
    first = json.loads(get(server, "/api/invocations?limit=2")[1])
    second = json.loads(get(server, f"/api/invocations?limit=2&before={first['next']}")[1])
    serials = [row["serial"] for row in first["invocations"] + second["invocations"]]
    assert serials == sorted(serials, reverse=True) and len(set(serials)) == 4
    assert first["invocations"][0]["key"] == "rows/2.jpg"

    newest = json.loads(get(server, "/api/logs/events?limit=5")[1])
    earlier = json.loads(get(server, f"/api/logs/events?limit=5&before={newest['next_before']}")[1])
    seqs = [line["seq"] for line in earlier["events"] + newest["events"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10
    assert newest["events"][-1]["seq"] == newest["last_seq"]


def test_gallery_pairs_source_and_output_by_the_handlers_result_when_the_format_changes_the_extension(
    sb, server
):
    try:
        sb.update_function_configuration(environment={"OUTPUT_FORMAT": "PNG"})
        upload_in_order(sb, ["as-png.jpg"])
    finally:
        sb.update_function_configuration(environment={})
    item = next(
        i for i in json.loads(get(server, "/api/gallery?limit=5")[1])["items"] if i["key"] == "as-png.jpg"
    )
    assert item["status"] == "done" and item["resized"]["key"] == "resized-as-png.jpg.png"
    response, body = get(
        server,
        f"/api/object?bucket={item['resized']['bucket']}&key=resized-as-png.jpg.png"
        f"&v={item['resized']['version']}",
    )
    assert response.status == 200 and Image.open(io.BytesIO(body)).format == "PNG"


def test_a_versioned_thumbnail_is_read_from_s3_once_for_every_page(sb, server):
    upload_in_order(sb, ["cached.jpg"])
    item = next(
        i for i in json.loads(get(server, "/api/gallery?limit=5")[1])["items"] if i["key"] == "cached.jpg"
    )
    url = (
        f"/api/object?bucket={item['resized']['bucket']}&key={item['resized']['key']}"
        f"&v={item['resized']['version']}"
    )
    first, body = get(server, url)
    assert first.status == 200 and "immutable" in first.getheader("Cache-Control")
    sb.s3.delete_object(Bucket=item["resized"]["bucket"], Key=item["resized"]["key"])
    second, again = get(server, url)  # gone from S3, still served: the other pages never read S3 for it
    assert second.status == 200 and again == body


def test_a_burst_reaches_the_lists_whole(sb, server):
    keys = [f"burst/{i:02d}.jpg" for i in range(40)]
    body = jpeg()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: sb.s3.put_object(Bucket=sb.config.source_bucket, Key=key, Body=body), keys))
    settle(sb)
    items = json.loads(get(server, "/api/gallery?limit=200")[1])["items"]
    shown = {item["key"]: item["status"] for item in items if item["key"].startswith("burst/")}
    assert shown == {key: "done" for key in keys}


def test_a_stream_carries_only_the_lists_its_page_has_open(sb, server):
    gallery_only = Stream(server.port, query="?topics=gallery")
    try:
        assert gallery_only.event()["data"]["topics"] == ["gallery"]
        sb.s3.put_object(Bucket=sb.config.source_bucket, Key="gallery-only.jpg", Body=jpeg())
        frame = gallery_only.frame_where(done("gallery-only.jpg"), "gallery-only.jpg done")["data"]
    finally:
        gallery_only.close()
    assert "invocations" not in frame and "logs" not in frame
    assert frame["changes"]["invocations"] >= 1 and "counts" in frame
    response, body = get(server, "/api/feed?topics=gallery,secrets")
    assert response.status == 400 and b"topics" in body
