"""What SNS sends a subscriber, in AWS's shapes.

A Lambda subscription receives ``{"Records": [one record]}`` whose ``Sns`` object spells the URLs
``SigningCertUrl`` and ``UnsubscribeUrl``, always has ``MessageAttributes`` and has ``Subject`` null when
none was given. An SQS subscription receives the HTTP/SQS envelope instead: ``SigningCertURL`` and
``UnsubscribeURL``, no ``Subject`` or ``MessageAttributes`` when there are none, written with AWS's
``"Key" : value`` layout; with ``RawMessageDelivery`` the message itself, its attributes as SQS message
attributes. The signature is not AWS's (no key of AWS signs here): a base64 value of its length.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field

SOURCE = "aws:sns"
CERT_NAME = "SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


@dataclass(frozen=True)
class Publication:
    """One message published to a topic, with the topic's subscriptions when it was published."""

    topic_arn: str
    message_id: str
    message: str
    timestamp: str  # 2026-12-07T04:10:00.123Z
    subject: str | None = None
    attributes: dict = field(default_factory=dict)  # {name: {"Type": ..., "Value": ...}}
    structure: str | None = None  # "json": a message per protocol, "default" for the rest
    group_id: str | None = None
    deduplication_id: str | None = None
    subscriptions: tuple = ()  # ({"arn", "protocol", "endpoint", "attributes"}, ...)
    trace_header: str | None = None  # the Publish request's X-Amzn-Trace-Id (a function's lineage)

    @property
    def region(self) -> str:
        return self.topic_arn.split(":")[3]

    def message_for(self, protocol: str) -> str:
        """The text a subscriber of ``protocol`` gets: with MessageStructure json, its own or the default."""
        if self.structure != "json":
            return self.message
        messages = json.loads(self.message)
        return messages.get(protocol, messages["default"])


def _signature(publication: Publication, subscription_arn: str) -> str:
    seed = f"{publication.message_id}{subscription_arn}".encode()
    return base64.b64encode(hashlib.shake_256(seed).digest(256)).decode()  # as long as an RSA-2048 one


def _urls(publication: Publication, subscription_arn: str) -> tuple[str, str]:
    host = f"https://sns.{publication.region}.amazonaws.com"
    return (
        f"{host}/{CERT_NAME}",
        f"{host}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
    )


def lambda_event(publication: Publication, subscription_arn: str) -> dict:
    """The event a Lambda subscription's function is invoked with."""
    cert, unsubscribe = _urls(publication, subscription_arn)
    return {
        "Records": [
            {
                "EventSource": SOURCE,
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": publication.message_id,
                    "TopicArn": publication.topic_arn,
                    "Subject": publication.subject,
                    "Message": publication.message_for("lambda"),
                    "Timestamp": publication.timestamp,
                    "SignatureVersion": "1",
                    "Signature": _signature(publication, subscription_arn),
                    "SigningCertUrl": cert,
                    "UnsubscribeUrl": unsubscribe,
                    "MessageAttributes": {
                        name: {"Type": a["Type"], "Value": a["Value"]}
                        for name, a in publication.attributes.items()
                    },
                },
            }
        ]
    }


def sqs_envelope(publication: Publication, subscription_arn: str) -> str:
    """The body of the SQS message a subscription without raw delivery gets."""
    cert, unsubscribe = _urls(publication, subscription_arn)
    fields = {
        "Type": "Notification",
        "MessageId": publication.message_id,
        "TopicArn": publication.topic_arn,
        **({"Subject": publication.subject} if publication.subject else {}),
        "Message": publication.message_for("sqs"),
        "Timestamp": publication.timestamp,
        "SignatureVersion": "1",
        "Signature": _signature(publication, subscription_arn),
        "SigningCertURL": cert,
        "UnsubscribeURL": unsubscribe,
    }
    if publication.attributes:
        fields["MessageAttributes"] = {
            name: {"Type": a["Type"], "Value": a["Value"]} for name, a in publication.attributes.items()
        }
    lines = [
        f"  {json.dumps(k)} : {json.dumps(v, separators=(',', ':'), ensure_ascii=False)}"
        for k, v in fields.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}"


def sqs_message_attributes(publication: Publication) -> dict:
    """A raw delivery's SQS message attributes (SendMessage's shape); SQS takes at most 10."""
    converted = {}
    for name, attribute in publication.attributes.items():
        kind, value = attribute["Type"], attribute["Value"]
        if kind.startswith("Binary"):
            converted[name] = {"DataType": kind, "BinaryValue": base64.b64decode(value)}
        else:
            converted[name] = {"DataType": kind, "StringValue": value}
    return converted


def sample_event(topic: str, message: str, subject: str | None, region: str, account: str) -> dict:
    """``run_local.py generate-event sns``: a Lambda subscription's event for one message."""
    import uuid

    topic_arn = f"arn:aws:sns:{region}:{account}:{topic}"
    publication = Publication(
        topic_arn=topic_arn,
        message_id=str(uuid.uuid4()),
        message=message,
        timestamp="2019-01-02T12:45:07.000Z",
        subject=subject,
        attributes={  # as AWS's sample: a string and a binary attribute (base64)
            "Test": {"Type": "String", "Value": "TestString"},
            "TestBinary": {"Type": "Binary", "Value": "VGVzdEJpbmFyeQ=="},
        },
    )
    return lambda_event(publication, f"{topic_arn}:{uuid.uuid4()}")
