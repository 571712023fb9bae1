"""SNS subscription filter policies against AWS's documented examples (Amazon SNS Developer Guide:
"Amazon SNS subscription filter policies", "Attribute string value matching", "Attribute numeric value
matching", "Key matching", "AND/OR logic", "Policy scope"): each policy with the attributes or body the
documents say it matches, and those they say it does not."""

from __future__ import annotations

import json

import pytest

from sandbox.event_sources.sns.filter_policy import matches


def s(value):
    return {"Type": "String", "Value": value}


def n(value):
    return {"Type": "Number", "Value": str(value)}


def array(*values, kind="String.Array"):
    return {"Type": kind, "Value": json.dumps(list(values))}


# The documents' example message: its attributes, and the same as a message body.
TRANSACTION = {
    "customer_interests": array("soccer", "rugby", "hockey"),
    "store": s("example_corp"),
    "event": s("order_placed"),
    "price_usd": n(210.75),
}
TRANSACTION_BODY = {
    "customer_interests": ["soccer", "rugby", "hockey"],
    "store": "example_corp",
    "event": "order_placed",
    "price_usd": 210.75,
}

# (policy, attributes, matches?)
ATTRIBUTE_CASES = [
    # the example policy the documents accept the example message with
    (
        {
            "store": ["example_corp"],
            "event": [{"anything-but": "order_cancelled"}],
            "customer_interests": ["rugby", "football", "baseball"],
            "price_usd": [{"numeric": [">=", 100]}],
        },
        TRANSACTION,
        True,
    ),
    ({"store": ["example_corp"], "event": ["order_cancelled"]}, TRANSACTION, False),
    ({"customer_interests": ["rugby"], "price_usd": [{"numeric": ["<", 100]}]}, TRANSACTION, False),
    # exact string matching
    ({"customer_interests": ["rugby", "tennis"]}, {"customer_interests": s("rugby")}, True),
    ({"customer_interests": ["rugby", "tennis"]}, {"customer_interests": s("tennis")}, True),
    ({"customer_interests": ["rugby", "tennis"]}, {"customer_interests": s("baseball")}, False),
    # prefix, suffix, equals-ignore-case
    ({"customer_interests": [{"prefix": "bas"}]}, {"customer_interests": s("baseball")}, True),
    ({"customer_interests": [{"prefix": "bas"}]}, {"customer_interests": s("basketball")}, True),
    ({"customer_interests": [{"prefix": "bas"}]}, {"customer_interests": s("rugby")}, False),
    ({"customer_interests": [{"suffix": "ball"}]}, {"customer_interests": s("baseball")}, True),
    ({"customer_interests": [{"suffix": "ball"}]}, {"customer_interests": s("rugby")}, False),
    ({"customer_interests": [{"equals-ignore-case": "tennis"}]}, {"customer_interests": s("TENNIS")}, True),
    ({"customer_interests": [{"equals-ignore-case": "tennis"}]}, {"customer_interests": s("Tennis")}, True),
    ({"customer_interests": [{"equals-ignore-case": "tennis"}]}, {"customer_interests": s("tenis")}, False),
    # anything-but: values, a prefix, and an array with one value outside them
    (
        {"customer_interests": [{"anything-but": ["rugby", "tennis"]}]},
        {"customer_interests": s("baseball")},
        True,
    ),
    (
        {"customer_interests": [{"anything-but": ["rugby", "tennis"]}]},
        {"customer_interests": s("football")},
        True,
    ),
    (
        {"customer_interests": [{"anything-but": ["rugby", "tennis"]}]},
        {"customer_interests": array("rugby", "baseball")},
        True,
    ),
    (
        {"customer_interests": [{"anything-but": ["rugby", "tennis"]}]},
        {"customer_interests": s("rugby")},
        False,
    ),
    ({"event": [{"anything-but": {"prefix": "order-"}}]}, {"event": s("data-entry")}, True),
    ({"event": [{"anything-but": {"prefix": "order-"}}]}, {"event": s("order-cancelled")}, False),
    # IP address matching
    ({"source_ip": [{"cidr": "10.0.0.0/24"}]}, {"source_ip": s("10.0.0.0")}, True),
    ({"source_ip": [{"cidr": "10.0.0.0/24"}]}, {"source_ip": s("10.0.0.255")}, True),
    ({"source_ip": [{"cidr": "10.0.0.0/24"}]}, {"source_ip": s("10.0.1.0")}, False),
    # numeric: exact, anything-but, ranges
    ({"price_usd": [{"numeric": ["=", 301.5]}]}, {"price_usd": n(301.5)}, True),
    ({"price_usd": [{"numeric": ["=", 301.5]}]}, {"price_usd": n("3.015e2")}, True),
    ({"price_usd": [{"numeric": ["=", 301.5]}]}, {"price_usd": n(301)}, False),
    ({"price": [{"anything-but": [100, 500]}]}, {"price": n(101)}, True),
    ({"price": [{"anything-but": [100, 500]}]}, {"price": n(100.1)}, True),
    ({"price": [{"anything-but": [100, 500]}]}, {"price": array(100, 50, kind="Number.Array")}, True),
    ({"price": [{"anything-but": [100, 500]}]}, {"price": n(100)}, False),
    ({"price_usd": [{"numeric": ["<", 0]}]}, {"price_usd": n(-3)}, True),
    ({"price_usd": [{"numeric": ["<", 0]}]}, {"price_usd": n(0)}, False),
    ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, {"price_usd": n(150)}, True),
    ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, {"price_usd": n(0)}, False),
    ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, {"price_usd": n(150.5)}, False),
    # a number matches only a Number attribute; a string only a String one
    ({"price_usd": [210.75]}, {"price_usd": n(210.75)}, True),
    ({"price_usd": [210.75]}, {"price_usd": s("210.75")}, False),
    ({"price_usd": [{"numeric": [">", 1]}]}, {"price_usd": s("5")}, False),
    # key matching
    ({"store": [{"exists": True}]}, {"store": s("fans"), "customer_interests": array("baseball")}, True),
    ({"store": [{"exists": True}]}, {"customer_interests": array("baseball", "basketball")}, False),
    ({"store": [{"exists": False}]}, {"customer_interests": array("baseball", "basketball")}, True),
    ({"store": [{"exists": False}]}, {"store": s("fans"), "customer_interests": array("baseball")}, False),
    ({"store": [{"exists": False}]}, {}, False),  # an empty set of attributes matches no policy
    ({"store": ["example_corp"]}, {}, False),
    # a policy's other keys must all match; a message's other attributes are ignored
    ({"store": ["example_corp"]}, TRANSACTION, True),
    ({"store": ["example_corp"], "missing": ["x"]}, TRANSACTION, False),
    # OR logic
    (
        {"$or": [{"customer_interests": ["rugby"]}, {"price_usd": [{"numeric": [">", 100]}]}]},
        {"customer_interests": s("tennis"), "price_usd": n(150)},
        True,
    ),
    (
        {"$or": [{"customer_interests": ["rugby"]}, {"price_usd": [{"numeric": [">", 100]}]}]},
        {"customer_interests": s("tennis"), "price_usd": n(50)},
        False,
    ),
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        {"source": s("aws.cloudwatch"), "namespace": s("AWS/EC2")},
        True,
    ),
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        {"source": s("aws.ec2"), "namespace": s("AWS/EC2")},
        False,
    ),
    # a Binary attribute takes part in no match
    ({"blob": [{"exists": True}]}, {"blob": {"Type": "Binary", "Value": "AAE="}}, False),
]

# (policy, body, matches?)
BODY_CASES = [
    (
        {
            "store": ["example_corp"],
            "event": [{"anything-but": "order_cancelled"}],
            "customer_interests": ["rugby", "football", "baseball"],
            "price_usd": [{"numeric": [">=", 100]}],
        },
        TRANSACTION_BODY,
        True,
    ),
    ({"store": ["example_corp"], "event": ["order_cancelled"]}, TRANSACTION_BODY, False),
    (
        {"store": [{"exists": True}]},
        {"store": "fans", "customer_interests": ["baseball", "basketball"]},
        True,
    ),
    ({"store": [{"exists": True}]}, {"customer_interests": ["baseball", "basketball"]}, False),
    ({"store": [{"exists": False}]}, {"customer_interests": ["baseball", "basketball"]}, True),
    ({"store": [{"exists": False}]}, {"store": "fans"}, False),
    # nested properties
    (
        {"order": {"customer": {"tier": ["gold"]}, "total": [{"numeric": [">", 100]}]}},
        {"order": {"customer": {"tier": "gold", "id": 7}, "total": 250}},
        True,
    ),
    (
        {"order": {"customer": {"tier": ["gold"]}}},
        {"order": {"customer": {"tier": "silver"}}},
        False,
    ),
    ({"order": {"customer": {"tier": ["gold"]}}}, {"order": "gold"}, False),
    ({"order": {"coupon": [{"exists": False}]}}, {"order": {"total": 3}}, True),
    # arrays of objects: one element matching is enough
    (
        {"Records": {"eventName": [{"prefix": "ObjectCreated:"}]}},
        {"Records": [{"eventName": "ObjectRemoved:Delete"}, {"eventName": "ObjectCreated:Put"}]},
        True,
    ),
    (
        {"Records": {"eventName": [{"prefix": "ObjectCreated:"}]}},
        {"Records": [{"eventName": "ObjectRemoved:Delete"}]},
        False,
    ),
    # $or inside the body
    ({"$or": [{"size": ["big"]}, {"rush": [True]}]}, {"size": "small", "rush": True}, True),
    ({"$or": [{"size": ["big"]}, {"rush": [True]}]}, {"size": "small", "rush": False}, False),
    # numbers in the body, and a body that is not JSON
    ({"price_usd": [{"numeric": [">", 200]}]}, TRANSACTION_BODY, True),
    ({"price_usd": [{"numeric": [">", 300]}]}, TRANSACTION_BODY, False),
]


@pytest.mark.parametrize("policy,attributes,expected", ATTRIBUTE_CASES)
def test_attribute_policies_match_as_aws_documents(policy, attributes, expected):
    assert matches(policy, "MessageAttributes", "any message", attributes) is expected


@pytest.mark.parametrize("policy,body,expected", BODY_CASES)
def test_body_policies_match_as_aws_documents(policy, body, expected):
    assert matches(policy, "MessageBody", json.dumps(body), {}) is expected


def test_a_body_policy_matches_no_message_that_is_not_json():
    assert not matches({"store": [{"exists": False}]}, "MessageBody", "plain text", {})


def test_no_policy_lets_every_message_through():
    assert matches(None, None, "anything", None)
    assert matches({}, "MessageBody", "not json", {})


def test_the_scope_is_message_attributes_unless_told():
    assert matches({"store": ["a"]}, None, json.dumps({"store": "b"}), {"store": s("a")})
