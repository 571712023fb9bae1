"""The change feed's indexes (web/feed/indexes.py) over a stand-in sandbox: the real InvocationLog and log
mirror, the page's declared interface (sandbox/interface.py) and nothing else, so each behaviour is exact and
fast.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from helpers.stand_in import StandIn
from sandbox.lambda_.invocation import InvocationRecord
from web.feed import ChangeFeed

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"


def record(
    key,
    status="pending",
    attempt=1,
    request_id=None,
    result=None,
    trigger="s3",
    event_name="ObjectCreated:Put",
    at=None,
    size=1000,
    function_name="ImageResizeLambda",
):
    event = {
        "Records": [
            {
                "eventName": event_name,
                "s3": {"bucket": {"name": SOURCE}, "object": {"key": key, "size": size, "eTag": "abc"}},
            }
        ]
    }
    made = InvocationRecord(
        request_id=request_id or f"rid-{key}",
        function_name=function_name,
        event=event,
        attempt=attempt,
        status=status,
        result=result,
        trigger=trigger,
        source="aws:s3",
        subject={"bucket": SOURCE, "key": key},
    )
    if at is not None:
        made.detected_at = at
    return made


def resized(key, output_key, bucket=DEST):
    body = {
        "results": [
            {
                "bucket": SOURCE,
                "key": key,
                "status": "resized",
                "outputBucket": bucket,
                "outputKey": output_key,
                "width": 10,
                "height": 8,
                "bytes": 100,
            }
        ]
    }
    return {"statusCode": 200, "body": json.dumps(body)}


@pytest.fixture
def sandbox():
    return StandIn()


@pytest.fixture
def feed(sandbox):
    feed = ChangeFeed(sandbox).start()
    yield feed
    feed.close()


def keys(feed, **page):
    return [item["key"] for item in feed.gallery_page(**page)["items"]]


def test_the_newest_record_about_an_object_decides_its_item(sandbox, feed):
    first = sandbox.records.add(record("a.jpg", at=1.0))
    first.status, first.result = "success", resized("a.jpg", "resized-a.jpg")
    sandbox.records.changed(first)
    [item] = feed.gallery_page()["items"]
    assert item["status"] == "done" and item["resized"]["key"] == "resized-a.jpg"
    assert item["resized"]["version"] == f"r-{first.request_id}-1"


def test_an_older_uploads_late_change_does_not_undo_a_newer_upload(sandbox, feed):
    old = sandbox.records.add(record("k.jpg", request_id="old", at=1.0))
    sandbox.records.add(record("k.jpg", request_id="new", at=2.0))
    old.status = "running"
    sandbox.records.changed(old)
    [item] = feed.gallery_page()["items"]
    assert item["request_id"] == "new" and item["status"] == "pending"


def test_a_retry_keeps_the_objects_place_and_a_new_upload_moves_it_first(sandbox, feed):
    sandbox.records.add(record("a.jpg", at=1.0))
    sandbox.records.add(record("b.jpg", at=2.0))
    sandbox.records.add(record("a.jpg", attempt=2, at=1.0))  # a retry: same request id, next attempt
    assert keys(feed) == ["b.jpg", "a.jpg"]
    sandbox.records.add(record("a.jpg", request_id="again", at=3.0))
    assert keys(feed) == ["a.jpg", "b.jpg"]
    assert feed.gallery_page()["total"] == 2


def test_a_manual_invoke_updates_an_object_shown_but_adds_none(sandbox, feed):
    sandbox.records.add(record("never-uploaded.jpg", trigger="invoke"))
    assert keys(feed) == []
    sandbox.records.add(record("up.jpg", at=1.0))
    sandbox.records.add(record("up.jpg", request_id="by-hand", trigger="invoke", at=9.0))
    [item] = feed.gallery_page()["items"]
    assert item["request_id"] == "by-hand" and item["order"][0] == 1.0


def test_an_invoke_with_a_hand_made_event_keeps_the_size_s3_gave_the_object(sandbox, feed):
    upload = sandbox.records.add(record("big.jpg", size=98_000, at=1.0))
    upload.status, upload.result = "success", resized("big.jpg", "resized-big.jpg")
    sandbox.records.changed(upload)
    # generate-event's S3 event says 1024 bytes, whatever the object holds
    by_hand = sandbox.records.add(record("big.jpg", request_id="by-hand", trigger="cli", size=1024, at=9.0))
    by_hand.status, by_hand.result = "success", resized("big.jpg", "resized-big.jpg")
    sandbox.records.changed(by_hand)
    [item] = feed.gallery_page()["items"]
    assert item["request_id"] == "by-hand"
    assert item["source"]["bytes"] == 98_000 and item["saving_pct"] == round(100 * (1 - 100 / 98_000), 1)


def test_invocations_are_filtered_by_function_and_trigger_before_paging(sandbox, feed):
    for i in range(30):
        sandbox.records.add(record(f"{i}.jpg", request_id=f"s{i}"))
        if i % 10 == 0:
            sandbox.records.add(record(f"q{i}.jpg", request_id=f"q{i}", trigger="sqs", function_name="Q"))
    page = feed.invocation_page(limit=2, function_name="Q")
    assert [r.request_id for _, r in page["records"]] == ["q20", "q10"]
    rest = feed.invocation_page(before=page["next"], limit=2, function_name="Q")
    assert [r.request_id for _, r in rest["records"]] == ["q0"] and rest["next"] is None
    assert [
        r.request_id
        for _, r in feed.invocation_page(trigger="sqs", function_name="ImageResizeLambda")["records"]
    ] == []
    assert page["functions"] == ["ImageResizeLambda", "Q"] and page["triggers"] == ["s3", "sqs"]


def test_the_functions_own_outputs_in_the_source_bucket_are_not_gallery_items(sandbox, feed):
    sandbox.records.add(record("resized-x.jpg", at=2.0))  # the output's own event, seen first
    source = sandbox.records.add(record("x.jpg", at=1.0))
    source.status, source.result = "success", resized("x.jpg", "resized-x.jpg", bucket=SOURCE)
    sandbox.records.changed(source)
    assert keys(feed) == ["x.jpg"]


def test_a_deleted_object_leaves_the_gallery(sandbox, feed):
    sandbox.records.add(record("gone.jpg", at=1.0))
    sandbox.records.add(record("gone.jpg", request_id="delete", event_name="ObjectRemoved:Delete", at=2.0))
    assert keys(feed) == []


def test_pages_follow_the_cursor_to_the_end(sandbox, feed):
    for i in range(7):
        sandbox.records.add(record(f"{i}.jpg", at=float(i)))
    seen, cursor = [], None
    while True:
        page = feed.gallery_page(
            before=None if cursor is None else tuple(map(float, cursor.split(":"))), limit=3
        )
        seen += [item["key"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"{i}.jpg" for i in reversed(range(7))]


def test_invocations_page_newest_first_and_count_by_status(sandbox, feed):
    made = [sandbox.records.add(record(f"{i}.jpg", request_id=f"r{i}")) for i in range(5)]
    made[0].status = "running"
    sandbox.records.changed(made[0])
    page = feed.invocation_page(limit=3)
    assert [r.request_id for _, r in page["records"]] == ["r4", "r3", "r2"]
    rest = feed.invocation_page(before=page["next"], limit=3)
    assert [r.request_id for _, r in rest["records"]] == ["r1", "r0"] and rest["next"] is None
    counts = feed.counts()
    assert counts["invocations"] == 5 and counts["running"] == 1


def test_log_lines_page_back_and_filter_as_the_console_does(sandbox, feed):
    group = "/aws/lambda/ImageResizeLambda"
    for i in range(6):
        sandbox.logs.put(
            group, "s1" if i % 2 else "s2", f"line {i} {'ERROR' if i == 4 else 'ok'}", request_id=f"r{i}"
        )
    sandbox.logs.put("/aws/lambda/Other", "s", "not this function's")
    newest = feed.log_page(limit=4)
    assert [line["message"].split()[1] for line in newest["events"]] == ["2", "3", "4", "5"]
    earlier = feed.log_page(before=newest["next_before"], limit=4)
    assert [line["message"].split()[1] for line in earlier["events"]] == ["0", "1"] and earlier[
        "next_before"
    ] is None
    assert [line["message"] for line in feed.log_page(contains="error")["events"]] == ["line 4 ERROR"]
    assert {line["stream"] for line in feed.log_page(stream="s1")["events"]} == {"s1"}
    assert [line["seq"] for line in feed.log_page(after=newest["events"][-2]["seq"])["events"]] == [
        newest["events"][-1]["seq"]
    ]


def test_every_log_groups_lines_are_kept_and_paged_on_their_own(sandbox, feed):
    for i in range(5):
        sandbox.logs.put("/aws/lambda/ImageResizeLambda", "s", f"default {i}")
        sandbox.logs.put("/aws/lambda/Other", "o", f"other {i}")
    first = feed.log_page(group="/aws/lambda/Other", limit=3)
    assert [line["message"] for line in first["events"]] == ["other 2", "other 3", "other 4"]
    assert {line["group"] for line in first["events"]} == {"/aws/lambda/Other"}
    earlier = feed.log_page(group="/aws/lambda/Other", before=first["next_before"], limit=3)
    assert [line["message"] for line in earlier["events"]] == ["other 0", "other 1"]
    assert earlier["next_before"] is None
    sandbox.logs.put("/aws/lambda/Other", "o", "other live")
    tail = feed.log_page(group="/aws/lambda/Other", after=first["last_seq"])
    assert [line["message"] for line in tail["events"]] == ["other live"]


def test_objects_without_a_record_are_listed_once_as_not_invoked():
    modified = datetime(2026, 1, 2, tzinfo=timezone.utc)
    sandbox = StandIn(
        objects=[
            {"Key": "old.jpg", "Size": 123, "ETag": '"e1"', "LastModified": modified},
            {"Key": "known.jpg", "Size": 5, "ETag": '"e2"', "LastModified": modified},
        ]
    )
    sandbox.records.add(record("known.jpg", at=modified.timestamp() + 1))
    feed = ChangeFeed(sandbox).start()
    try:

        def listed():
            return {item["key"]: item["status"] for item in feed.gallery_page()["items"]}

        from helpers.waiting import eventually

        assert eventually(listed, lambda found: len(found) == 2, what="the listed object") == {
            "known.jpg": "pending",
            "old.jpg": "not invoked",
        }
        assert feed.listing == "done"
        sandbox.records.add(record("old.jpg", request_id="now-invoked", at=modified.timestamp() + 2))
        assert listed()["old.jpg"] == "pending"  # from now on the records are the truth
    finally:
        feed.close()
