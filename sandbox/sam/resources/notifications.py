"""SNS topics, their subscriptions and policies (a SAM function's ``SNS`` event becomes a subscription)."""

from __future__ import annotations

import json

from sandbox.sam.resources import Created, Kind, generated_name, tags_dict

NOT_SIGNED = "the sandbox does not encrypt messages or check who may publish"
_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery")


def _attribute(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


class Topic(Kind):
    type = "AWS::SNS::Topic"
    properties = frozenset(
        {"TopicName", "DisplayName", "FifoTopic", "ContentBasedDeduplication", "Subscription", "Tags"}
    )
    noted = {
        "KmsMasterKeyId": NOT_SIGNED,
        "SignatureVersion": "the sandbox's signatures are not AWS's (no AWS key signs here)",
        "TracingConfig": "X-Ray tracing of SNS is not run by the sandbox",
        "DeliveryStatusLogging": "delivery status logs are not written by the sandbox",
        "DataProtectionPolicy": "data protection policies are not applied by the sandbox",
        "ArchivePolicy": "message archiving is not run by the sandbox",
    }
    name_property = "TopicName"
    name_limit = 256

    def physical_name(self, stack, logical_id, props):
        if isinstance(props.get("TopicName"), str):
            return props["TopicName"]
        fifo = str(props.get("FifoTopic", "")).lower() == "true"
        return generated_name(stack, logical_id, 256, suffix=".fifo" if fifo else "")

    def create(self, logical_id, props, ctx) -> Created:
        attributes = {
            key: _attribute(props[key])
            for key in ("DisplayName", "FifoTopic", "ContentBasedDeduplication")
            if key in props
        }
        request = {"Name": ctx.name, "Attributes": attributes}
        if props.get("Tags"):
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags_dict(props["Tags"]).items()]
        sns = ctx.client("sns")
        arn = sns.create_topic(**request)["TopicArn"]
        for subscription in props.get("Subscription") or []:
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        return Created(arn, arn, {"TopicArn": arn, "TopicName": ctx.name})

    def delete(self, created, ctx) -> None:
        ctx.client("sns").delete_topic(TopicArn=created.physical_id)


class Subscription(Kind):
    type = "AWS::SNS::Subscription"
    properties = frozenset({"TopicArn", "Protocol", "Endpoint", "Region", *_SUBSCRIPTION_ATTRIBUTES})
    noted = {
        "RedrivePolicy": "a subscription's dead-letter queue is not used: the sandbox tells and counts "
        "a message it could not deliver",
        "DeliveryPolicy": "the sandbox retries a failed delivery three times, 0.5 s apart",
        "SubscriptionRoleArn": "Firehose subscriptions are not delivered by the sandbox",
        "ReplayPolicy": "message replay is not run by the sandbox",
    }
    updatable = frozenset(_SUBSCRIPTION_ATTRIBUTES)

    def create(self, logical_id, props, ctx) -> Created:
        attributes = {k: _attribute(props[k]) for k in _SUBSCRIPTION_ATTRIBUTES if k in props}
        if "FilterPolicyScope" in attributes:  # the scope first: the policy is checked against it
            attributes = {"FilterPolicyScope": attributes.pop("FilterPolicyScope"), **attributes}
        arn = ctx.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Created(arn, arn, {"Arn": arn})

    def update(self, logical_id, created, props, ctx) -> Created:
        sns = ctx.client("sns")
        for key in _SUBSCRIPTION_ATTRIBUTES:
            if key in props:
                sns.set_subscription_attributes(
                    SubscriptionArn=created.physical_id,
                    AttributeName=key,
                    AttributeValue=_attribute(props[key]),
                )
        return created

    def delete(self, created, ctx) -> None:
        ctx.client("sns").unsubscribe(SubscriptionArn=created.physical_id)


class TopicPolicy(Kind):
    type = "AWS::SNS::TopicPolicy"
    properties = frozenset({"Topics", "PolicyDocument"})

    def create(self, logical_id, props, ctx) -> Created:
        document = props["PolicyDocument"]
        for arn in props["Topics"]:
            ctx.client("sns").set_topic_attributes(
                TopicArn=arn,
                AttributeName="Policy",
                AttributeValue=document if isinstance(document, str) else json.dumps(document),
            )
        name = generated_name(ctx.stack_name, logical_id)
        return Created(name, name)


KINDS = (Topic(), Subscription(), TopicPolicy())
