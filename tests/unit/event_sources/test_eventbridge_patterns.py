"""EventBridge's event patterns: AWS's documented examples as match/no-match cases, the checks PutRule
makes, and a property against moto's matcher on the part of the language it reads as AWS does (flat
events of strings, numbers and lists of strings)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.events.models import EventPattern

from sandbox.event_sources.eventbridge.patterns import InvalidEventPattern, load, matches

EC2_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "FileName": "photo.PNG",
        "FilePath": "/usr/lib/libc.so",
        "LastName": "",
        "UserID": None,
        "tags": ["blue", "green"],
        "items": [{"sku": "a1", "qty": 2}, {"sku": "b2", "qty": 9}],
    },
}

CASES = [
    # (pattern, matches EC2_EVENT)
    ({"source": ["aws.ec2"]}, True),
    ({"source": ["aws.s3"]}, False),
    ({"source": ["aws.s3", "aws.ec2"]}, True),
    ({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}, True),
    ({"source": ["aws.ec2"], "detail": {"state": ["running"]}}, False),
    ({"time": [{"prefix": "2017-12-22"}]}, True),
    ({"time": [{"prefix": "2017-10-02"}]}, False),
    ({"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}}, True),
    ({"detail": {"FileName": [{"suffix": ".png"}]}}, False),
    ({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, True),
    ({"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}, True),
    ({"detail": {"state": [{"anything-but": "initializing"}]}}, True),
    ({"detail": {"state": [{"anything-but": "terminated"}]}}, False),
    ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, False),
    ({"detail": {"c-count": [{"anything-but": 123}]}}, True),
    ({"detail": {"c-count": [{"anything-but": [5, 6]}]}}, False),
    ({"region": [{"anything-but": {"prefix": "us-"}}]}, False),
    ({"region": [{"anything-but": {"prefix": "eu-"}}]}, True),
    ({"detail": {"FileName": [{"anything-but": {"suffix": ".PNG"}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}}, False),
    ({"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}, False),
    ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
    ({"detail": {"c-count": [{"numeric": [">", 5]}]}}, False),
    ({"detail": {"d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}, True),
    ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),  # not a number
    ({"detail": {"c-count": [5.0]}}, True),  # numbers compare as numbers
    ({"detail": {"c-count": ["5"]}}, False),  # a string is not the number
    ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
    ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
    ({"detail": {"state": [{"exists": True}]}}, True),
    ({"detail": {"c-count": [{"exists": False}]}}, False),
    ({"detail": {"nothing": [{"exists": False}]}}, True),
    ({"detail": {"nothing": [{"exists": True}]}}, False),
    ({"detail": [{"exists": True}]}, False),  # exists reads leaves only
    ({"detail": {"LastName": [""]}}, True),
    ({"detail": {"UserID": [None]}}, True),
    ({"detail": {"instance-id": [None]}}, False),
    ({"detail": {"nothing": [None]}}, False),
    ({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0", "x"]}, True),
    ({"detail": {"tags": ["green"]}}, True),  # an array matches by any element
    ({"detail": {"tags": ["red"]}}, False),
    ({"detail": {"items": {"sku": ["b2"], "qty": [{"numeric": [">", 5]}]}}}, True),
    ({"detail": {"items": {"sku": ["c3"]}}}, False),
    ({"resources": [{"wildcard": "arn:aws:ec2:us-west-1:*:instance/*"}]}, True),
    ({"resources": [{"wildcard": "arn:aws:ec2:us-east-1:*"}]}, False),
    (
        {
            "source": ["aws.ec2"],
            "$or": [{"detail": {"c-count": [{"numeric": [">", 10]}]}}, {"region": ["us-west-1"]}],
        },
        True,
    ),
    ({"$or": [{"detail": {"c-count": [{"numeric": [">", 10]}]}}, {"region": ["eu-west-1"]}]}, False),
    ({"detail": {"$or": [{"state": ["terminated"]}, {"nothing": ["x"]}]}}, True),
    ({"detail": {"state": ["terminated"], "c-count": [6]}}, False),  # every field must match
]


@pytest.mark.parametrize(("pattern", "expected"), CASES, ids=[json.dumps(c[0]) for c in CASES])
def test_documented_patterns_match_or_not(pattern, expected):
    assert matches(load(json.dumps(pattern)), EC2_EVENT) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        "[1]",
        '{"source": "aws.ec2"}',
        '{"detail": {"c": [{"numeric": [">", "x"]}]}}',
        '{"detail": {"c": [{"numeric": ["~", 1]}]}}',
        '{"c": [{"exists": "yes"}]}',
        '{"c": [{"cidr": "not-an-ip"}]}',
        '{"c": [{"unknown-operator": 1}]}',
        '{"c": [{"prefix": "a", "suffix": "b"}]}',
        '{"$or": [{"a": ["b"]}]}',
    ],
)
def test_patterns_eventbridge_refuses_are_refused(pattern):
    with pytest.raises(InvalidEventPattern):
        load(pattern)


# The reference: moto's matcher agrees with AWS on flat events of strings, integers and non-empty lists of
# strings, and on exact values, prefix, suffix, equals-ignore-case, anything-but (lists), numeric, exists.
words = st.sampled_from(["", "a", "ab", "abc", "B", "ba", "x-1", "10"])
leaf = st.one_of(words, st.integers(-3, 3), st.lists(words, min_size=1, max_size=3))
fields = st.sampled_from(["f", "g", "h"])
event_strategy = st.dictionaries(fields, leaf, max_size=3).map(
    lambda detail: {"source": "s", "detail": detail}
)
matcher = st.one_of(
    words,
    st.integers(-3, 3),
    st.builds(lambda w: {"prefix": w}, words),
    st.builds(lambda w: {"suffix": w}, words),
    st.builds(lambda w: {"equals-ignore-case": w}, words),
    st.builds(lambda ws: {"anything-but": ws}, st.lists(words, min_size=1, max_size=2)),
    st.builds(
        lambda op, n, op2, n2: {"numeric": [op, n, op2, n2]},
        st.sampled_from([">", ">="]),
        st.integers(-3, 3),
        st.sampled_from(["<", "<="]),
        st.integers(-3, 3),
    ),
    st.builds(lambda b: {"exists": b}, st.booleans()),
)
pattern_strategy = st.dictionaries(
    fields, st.lists(matcher, min_size=1, max_size=3), min_size=1, max_size=3
).map(lambda detail: {"detail": detail})


@settings(max_examples=400, deadline=None)
@given(pattern=pattern_strategy, event=event_strategy)
def test_matching_agrees_with_motos_matcher_where_it_follows_aws(pattern, event):
    reference = EventPattern(json.dumps(pattern), pattern).matches_event(event)
    assert matches(load(json.dumps(pattern)), event) is reference
