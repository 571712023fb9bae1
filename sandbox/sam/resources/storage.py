"""S3 buckets (with their notification configuration: the S3 trigger), SQS queues, DynamoDB tables (with
their streams), log groups, and the bucket and queue policies, through each service's API. Policies are
stored as on AWS and, like IAM, not enforced by the sandbox."""

from __future__ import annotations

import json

from sandbox.sam.resources import ACCOUNT, Created, Kind, arn_service, referenced_type, tags_dict

UNENCRYPTED = "encryption at rest has no visible effect here; the sandbox stores data unencrypted"
NOT_CHECKED = "access is not checked by the sandbox (policies and ACLs are stored, not enforced)"


def _filter(cfn_filter) -> dict:
    """CloudFormation's ``Filter: {S3Key: {Rules: [...]}}`` as S3's
    ``Filter: {Key: {FilterRules: [...]}}``."""
    rules = ((cfn_filter or {}).get("S3Key") or {}).get("Rules") or []
    return (
        {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}} if rules else {}
    )


class Bucket(Kind):
    type = "AWS::S3::Bucket"
    properties = frozenset(
        {"BucketName", "NotificationConfiguration", "VersioningConfiguration", "CorsConfiguration", "Tags"}
    )
    noted = {
        "BucketEncryption": UNENCRYPTED,
        "PublicAccessBlockConfiguration": NOT_CHECKED,
        "OwnershipControls": NOT_CHECKED,
        "AccessControl": NOT_CHECKED,
    }
    name_property = "BucketName"
    name_limit = 63
    lowercase = True

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        notification = props.get("NotificationConfiguration") or {}
        for key in notification:
            if key == "EventBridgeConfiguration":
                problems.append(
                    "NotificationConfiguration.EventBridgeConfiguration: S3 events sent to EventBridge "
                    "are not delivered to functions by the sandbox"
                )
            elif key not in ("LambdaConfigurations", "QueueConfigurations", "TopicConfigurations"):
                problems.append(f"NotificationConfiguration.{key} is not run by the sandbox")
        return problems

    def create(self, logical_id, props, ctx) -> Created:
        s3, name = ctx.client("s3"), ctx.name
        if ctx.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.region})
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
            )
        if props.get("CorsConfiguration"):
            rules = []
            for rule in props["CorsConfiguration"].get("CorsRules") or []:
                converted = {
                    "AllowedMethods": rule["AllowedMethods"],
                    "AllowedOrigins": rule["AllowedOrigins"],
                }
                for cfn, api in (
                    ("AllowedHeaders", "AllowedHeaders"),
                    ("ExposedHeaders", "ExposeHeaders"),
                    ("Id", "ID"),
                ):
                    if cfn in rule:
                        converted[api] = rule[cfn]
                if "MaxAge" in rule:
                    converted["MaxAgeSeconds"] = int(rule["MaxAge"])
                rules.append(converted)
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
        if props.get("Tags"):
            s3.put_bucket_tagging(
                Bucket=name,
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags_dict(props["Tags"]).items()]},
            )
        if props.get("NotificationConfiguration"):
            self._notify(s3, name, props["NotificationConfiguration"])
        region = ctx.region
        return Created(
            name,
            name,
            {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
            },
        )

    @staticmethod
    def _notify(s3, name: str, notification: dict) -> None:
        """CloudFormation's ``NotificationConfiguration`` as S3's put-bucket-notification-configuration."""

        def entry(target_key: str, target, config) -> dict:
            found = {target_key: target, "Events": [config["Event"]]}
            if _filter(config.get("Filter")):
                found["Filter"] = _filter(config["Filter"])
            return found

        configuration = {
            "LambdaFunctionConfigurations": [
                entry("LambdaFunctionArn", c["Function"], c)
                for c in notification.get("LambdaConfigurations") or []
            ],
            "QueueConfigurations": [
                entry("QueueArn", c["Queue"], c) for c in notification.get("QueueConfigurations") or []
            ],
            "TopicConfigurations": [
                entry("TopicArn", c["Topic"], c) for c in notification.get("TopicConfigurations") or []
            ],
        }
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={k: v for k, v in configuration.items() if v}
        )

    updatable = frozenset({"NotificationConfiguration"})

    def update(self, logical_id, created, props, ctx) -> Created:
        self._notify(ctx.client("s3"), created.physical_id, props.get("NotificationConfiguration") or {})
        return created

    def delete(self, created, ctx) -> None:
        ctx.client("s3").delete_bucket(Bucket=created.physical_id)  # refused if not empty, as on AWS


class BucketPolicy(Kind):
    type = "AWS::S3::BucketPolicy"
    properties = frozenset({"Bucket", "PolicyDocument"})

    def create(self, logical_id, props, ctx) -> Created:
        document = props["PolicyDocument"]
        ctx.client("s3").put_bucket_policy(
            Bucket=props["Bucket"], Policy=document if isinstance(document, str) else json.dumps(document)
        )
        return Created(props["Bucket"], props["Bucket"], {}, {"bucket": props["Bucket"]})

    def delete(self, created, ctx) -> None:
        ctx.client("s3").delete_bucket_policy(Bucket=created.extra["bucket"])


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


class Queue(Kind):
    type = "AWS::SQS::Queue"
    properties = frozenset(_QUEUE_ATTRIBUTES + ("QueueName", "Tags"))
    noted = {
        "SqsManagedSseEnabled": UNENCRYPTED,
        "KmsMasterKeyId": UNENCRYPTED,
        "KmsDataKeyReusePeriodSeconds": UNENCRYPTED,
    }
    name_property = "QueueName"
    name_limit = 80

    def physical_name(self, stack, logical_id, props):
        from sandbox.sam.resources import generated_name

        if isinstance(props.get("QueueName"), str):
            return props["QueueName"]
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        return generated_name(stack, logical_id, 80, suffix=".fifo" if fifo else "")

    def create(self, logical_id, props, ctx) -> Created:
        attributes = {}
        for key in _QUEUE_ATTRIBUTES:
            if key in props:
                value = props[key]
                attributes[key] = (
                    json.dumps(value)
                    if isinstance(value, dict)
                    else (str(value).lower() if isinstance(value, bool) else str(value))
                )
        request = {"QueueName": ctx.name, "Attributes": attributes}
        if props.get("Tags"):
            request["tags"] = tags_dict(props["Tags"])
        url = ctx.client("sqs").create_queue(**request)["QueueUrl"]
        arn = f"arn:aws:sqs:{ctx.region}:{ACCOUNT}:{ctx.name}"
        return Created(url, url, {"Arn": arn, "QueueName": ctx.name, "QueueUrl": url})

    def delete(self, created, ctx) -> None:
        ctx.client("sqs").delete_queue(QueueUrl=created.physical_id)


class QueuePolicy(Kind):
    type = "AWS::SQS::QueuePolicy"
    properties = frozenset({"Queues", "PolicyDocument"})

    def create(self, logical_id, props, ctx) -> Created:
        document = props["PolicyDocument"]
        for url in props["Queues"]:
            ctx.client("sqs").set_queue_attributes(
                QueueUrl=url,
                Attributes={"Policy": document if isinstance(document, str) else json.dumps(document)},
            )
        from sandbox.sam.resources import generated_name

        name = generated_name(ctx.stack_name, logical_id)
        return Created(name, name)


class Table(Kind):
    type = "AWS::DynamoDB::Table"
    properties = frozenset(
        {
            "TableName",
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "ProvisionedThroughput",
            "StreamSpecification",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "Tags",
            "DeletionProtectionEnabled",
            "TableClass",
            "TimeToLiveSpecification",
        }
    )
    noted = {
        "SSESpecification": UNENCRYPTED,
        "PointInTimeRecoverySpecification": "no backups are kept by the sandbox",
        "ContributorInsightsSpecification": "no CloudWatch Contributor Insights in the sandbox",
    }
    name_property = "TableName"
    name_limit = 255

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        if (
            "TimeToLiveSpecification" in props
            and str((props["TimeToLiveSpecification"] or {}).get("Enabled")).lower() == "true"
        ):
            plan.note(
                logical_id,
                "TimeToLiveSpecification: stored, but the sandbox never removes expired items "
                "(DynamoDB does, within days)",
            )
        return problems

    def create(self, logical_id, props, ctx) -> Created:
        dynamodb = ctx.client("dynamodb")

        def throughput(value):
            return {
                "ReadCapacityUnits": int(value["ReadCapacityUnits"]),
                "WriteCapacityUnits": int(value["WriteCapacityUnits"]),
            }

        request = {
            "TableName": ctx.name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if props.get("ProvisionedThroughput"):
            request["ProvisionedThroughput"] = throughput(props["ProvisionedThroughput"])
        if props.get("StreamSpecification"):
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": props["StreamSpecification"]["StreamViewType"],
            }
        indexes = []
        for index in props.get("GlobalSecondaryIndexes") or []:
            index = dict(index)
            if index.get("ProvisionedThroughput"):
                index["ProvisionedThroughput"] = throughput(index["ProvisionedThroughput"])
            indexes.append(index)
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if props.get("LocalSecondaryIndexes"):
            request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
        if props.get("Tags"):
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags_dict(props["Tags"]).items()]
        for key in ("TableClass", "DeletionProtectionEnabled"):
            if key in props:
                request[key] = props[key]
        table = dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=ctx.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Created(ctx.name, ctx.name, attributes)

    def delete(self, created, ctx) -> None:
        ctx.client("dynamodb").delete_table(TableName=created.physical_id)


class LogGroup(Kind):
    type = "AWS::Logs::LogGroup"
    properties = frozenset({"LogGroupName", "RetentionInDays", "Tags"})
    noted = {
        "KmsKeyId": UNENCRYPTED,
        "LogGroupClass": "log group classes make no difference here",
        "DataProtectionPolicy": "log data is not masked by the sandbox",
    }
    name_property = "LogGroupName"
    name_limit = 512

    def create(self, logical_id, props, ctx) -> Created:
        logs = ctx.client("logs")
        request = {"logGroupName": ctx.name}
        if props.get("Tags"):
            request["tags"] = tags_dict(props["Tags"])
        logs.create_log_group(**request)
        if props.get("RetentionInDays"):
            logs.put_retention_policy(logGroupName=ctx.name, retentionInDays=int(props["RetentionInDays"]))
        return Created(
            ctx.name, ctx.name, {"Arn": f"arn:aws:logs:{ctx.region}:{ACCOUNT}:log-group:{ctx.name}:*"}
        )

    def delete(self, created, ctx) -> None:
        ctx.client("logs").delete_log_group(logGroupName=created.physical_id)


def queue_or_stream_source(value, plan) -> str | None:
    """``sqs`` or ``dynamodb`` for an event source the sandbox polls, else None."""
    kind = referenced_type(value, plan)
    if kind == "AWS::SQS::Queue":
        return "sqs"
    if kind == "AWS::DynamoDB::Table":
        return "dynamodb"
    service = arn_service(value)
    return service if service in ("sqs", "dynamodb") else None


KINDS = (Bucket(), BucketPolicy(), Queue(), QueuePolicy(), Table(), LogGroup())
