"""Versions and aliases as data: how a function reference is read, how an alias draws its version, and
Lambda's checks of a routing configuration."""

import pytest

from sandbox.lambda_.validation import LambdaApiError
from sandbox.lambda_.versions import Alias, reference_from, routing_problem, split_reference

ARN = "arn:aws:lambda:us-east-1:123456789012:function:Greeter"


@pytest.mark.parametrize(
    "identifier, qualifier, expected",
    [
        ("Greeter", None, ("Greeter", None)),
        ("Greeter", "live", ("Greeter", "live")),
        ("Greeter:3", None, ("Greeter", "3")),
        ("Greeter:live", "live", ("Greeter", "live")),
        (ARN, None, ("Greeter", None)),
        (f"{ARN}:live", None, ("Greeter", "live")),
        (f"{ARN}:%24LATEST", None, ("Greeter", "$LATEST")),
        ("123456789012:function:Greeter:2", None, ("Greeter", "2")),
    ],
)
def test_a_function_is_named_with_its_qualifier_in_every_form_lambda_accepts(identifier, qualifier, expected):
    assert split_reference(identifier, qualifier) == expected


def test_two_different_qualifiers_are_refused_as_lambda_refuses_them():
    with pytest.raises(LambdaApiError) as raised:
        split_reference("Greeter:live", "3")
    assert raised.value.code == "InvalidParameterValueException"
    assert reference_from(f"{ARN}:live") == "Greeter:live" and reference_from(ARN) == "Greeter"


def test_an_alias_sends_its_weight_to_the_additional_version():
    alias = Alias("live", "1", {"2": 0.2})
    assert [alias.choose(lambda roll=roll: roll) for roll in (0.0, 0.19, 0.2, 0.5, 0.99)] == [
        "2",
        "2",
        "1",
        "1",
        "1",
    ]
    assert Alias("live", "1").choose(lambda: 0.0) == "1"
    assert alias.describe() == "version 1, 20 % to version 2"


def _problem(version, weights, known=("1", "2")):
    try:
        routing_problem(version, weights, lambda v: v in known, lambda v: f"{ARN}:{v}")
    except LambdaApiError as exc:
        return exc.code, exc.message
    return None


def test_a_routing_configuration_is_checked_as_lambda_checks_it():
    assert _problem("1", {"2": 0.3}) is None and _problem("1", {}) is None
    assert _problem("1", {"2": 0.1, "3": 0.1})[0] == "InvalidParameterValueException"
    assert _problem("1", {"2": 1.5})[0] == "ValidationException"
    assert _problem("1", {"2": -0.1})[0] == "ValidationException"
    assert _problem("1", {"1": 0.5}) == (
        "InvalidParameterValueException",
        "Invalid function version 1. Function version 1 is already included in routing configuration.",
    )
    assert (
        _problem("$LATEST", {"1": 0.5})[1]
        == "$LATEST is not supported for an alias pointing to more than 1 version"
    )
    assert _problem("1", {"7": 0.5}) == ("ResourceNotFoundException", f"Function not found: {ARN}:7")
