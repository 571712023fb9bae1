"""Patterns users write never hold the sandbox: CloudFormation's AllowedPattern, EventBridge's wildcard
filters and the name prefixes of ListRules / ListQueues run in linear time (RE2, sandbox/patterns.py), so
``(a+)+b`` against 40 characters is judged at once and the sandbox answers meanwhile. Through the real
AWS CLI and boto3 against a running sandbox."""

from __future__ import annotations

import json
import textwrap
import threading
import time
import urllib.request

import pytest

from helpers.aws_cli import aws_cli
from helpers.sandboxes import start_sandbox
from sandbox.sam.intrinsics import TemplateError
from sandbox.sam.template import _checked

EVIL = "(a+)+b"  # backtracks 2**n steps on a run of a's without a b
VALUE = "a" * 40  # hours for a backtracking engine
QUICK_S = 20  # generous on a busy machine; the old code takes hours


@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


def _aws(sb, *args, timeout=QUICK_S):
    return aws_cli(sb)(*args, timeout=timeout)


def _health_while(sb, action):
    """Runs ``action`` while asking /_sandbox/health every 0.2 s; returns its result and the slowest
    answer."""
    slowest, done = [0.0], threading.Event()

    def probe():
        while not done.is_set():
            started = time.perf_counter()
            with urllib.request.urlopen(f"{sb.endpoint_url}/_sandbox/health", timeout=QUICK_S) as answer:
                assert answer.status == 200
            slowest[0] = max(slowest[0], time.perf_counter() - started)
            done.wait(0.2)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        result = action()
    finally:
        done.set()
        prober.join(QUICK_S)
    return result, slowest[0]


def test_an_allowed_pattern_that_backtracks_is_judged_at_once_and_the_sandbox_keeps_answering(sb, tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(f"""\
        Parameters:
          Name:
            Type: String
            AllowedPattern: "{EVIL}"
        Resources:
          Queue:
            Type: AWS::SQS::Queue
        """)
    )
    started = time.perf_counter()
    result, slowest = _health_while(
        sb,
        lambda: _aws(
            sb,
            "cloudformation",
            "deploy",
            "--stack-name",
            "evil-pattern",
            "--template-file",
            str(template),
            "--parameter-overrides",
            f"Name={VALUE}",
        ),
    )
    assert time.perf_counter() - started < QUICK_S
    assert result.returncode != 0 and f"must match pattern {EVIL}" in result.stderr, result.stderr
    assert slowest < 5


def test_an_allowed_pattern_still_accepts_and_refuses_values():
    spec = {"Type": "String", "AllowedPattern": "[a-z][-a-z0-9]*"}
    assert _checked("Name", spec, "my-app-1", "t.yaml") == "my-app-1"
    with pytest.raises(TemplateError, match=r"Parameter 'Name' must match pattern \[a-z\]"):
        _checked("Name", spec, "My App", "t.yaml")


@pytest.mark.parametrize("pattern", [r"(?=a)a+", r"(a)\1", "a++", r"[a-z&&[^aeiou]]+"])
def test_a_java_pattern_re2_cannot_run_gets_one_clear_message(pattern):
    with pytest.raises(TemplateError, match="AllowedPattern the sandbox cannot use"):
        _checked("Name", {"Type": "String", "AllowedPattern": pattern}, "aa", "t.yaml")


def test_eventbridge_wildcards_match_as_on_aws_in_linear_time():
    from sandbox.patterns import PatternError, fullmatch, wildcard_match

    assert wildcard_match("photos/2024/cat.jpg", "photos/*.jpg")
    assert not wildcard_match("photos/cat.png", "photos/*.jpg")
    assert wildcard_match("a*b", "a\\*b") and not wildcard_match("axb", "a\\*b")
    started = time.thread_time()  # CPU time: a busy machine cannot make a linear match look slow
    assert not wildcard_match("a" * 5000, "*a" * 40 + "*b")
    assert time.thread_time() - started < 1
    with pytest.raises(PatternError):
        fullmatch("(?<=a)b", "ab")


def test_a_wildcard_rule_that_backtracks_does_not_hold_put_events(sb):
    events = sb.client("events")
    pattern = {"source": [{"wildcard": "*a" * 30 + "*b"}]}
    events.put_rule(Name="evil-wildcard", EventPattern=json.dumps(pattern))
    try:
        (result, slowest) = _health_while(
            sb, lambda: events.put_events(Entries=[{"Source": "a" * 60, "DetailType": "t", "Detail": "{}"}])
        )
        assert result["FailedEntryCount"] == 0, result
        assert slowest < 5
    finally:
        events.delete_rule(Name="evil-wildcard")


def test_name_prefixes_are_prefixes_not_patterns(sb):
    events, sqs = sb.client("events"), sb.client("sqs")
    events.put_rule(Name="a" * 60, ScheduleExpression="rate(1 day)")
    queue = sqs.create_queue(QueueName="a" * 60)["QueueUrl"]
    try:
        started = time.perf_counter()
        assert [r["Name"] for r in events.list_rules(NamePrefix="a" * 10)["Rules"]] == ["a" * 60]
        assert events.list_rules(NamePrefix="(a+)+c")["Rules"] == []
        assert sqs.list_queues(QueueNamePrefix="(a+)+c").get("QueueUrls", []) == []
        assert sqs.list_queues(QueueNamePrefix="a" * 10)["QueueUrls"] == [queue]
        assert time.perf_counter() - started < QUICK_S
    finally:
        events.delete_rule(Name="a" * 60)
        sqs.delete_queue(QueueUrl=queue)
