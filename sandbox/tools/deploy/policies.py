"""The IAM and resource policies deploy writes and reads: the role's, and the function's invoke permission."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

INLINE_POLICY_NAME = "ImageResizeLeastPrivilege"  # the role's one inline policy with --least-privilege
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
S3_PRINCIPAL = "s3.amazonaws.com"


def least_privilege_policy(
    source_bucket: str, destination_bucket: str, region: str, account: str, function_name: str
) -> dict:
    """The inline policy of --least-privilege: read the source, write the destination, write its own logs.

    The guide's AmazonS3FullAccess lets the function read, overwrite and delete every object of every
    bucket in the account; this is all the handler needs. The log statements are the ones the console
    puts in the role it creates for a new function (its own log group only)."""
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadSource",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{source_bucket}/*",
            },
            {
                "Sid": "WriteDestination",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{destination_bucket}/*",
            },
            {
                "Sid": "CreateLogGroup",
                "Effect": "Allow",
                "Action": "logs:CreateLogGroup",
                "Resource": f"arn:aws:logs:{region}:{account}:*",
            },
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group}:*",
            },
        ],
    }


def policy_name_of(arn: str) -> str:
    """arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole -> AWSLambdaBasicExecutionRole."""
    return arn.rsplit("/", 1)[-1]


def policy_document(value) -> dict:
    """IAM returns policy documents URL-encoded; boto3 decodes them to a dict, other clients may not."""
    if isinstance(value, dict):
        return value
    try:
        return json.loads(unquote(value or "{}"))
    except ValueError:
        return {}


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else value


def trusts_lambda(document) -> bool:
    """Whether a role's trust policy lets Lambda assume the role."""
    for statement in policy_document(document).get("Statement", []):
        services = _as_list((statement.get("Principal") or {}).get("Service", []))
        actions = _as_list(statement.get("Action", []))
        if (
            statement.get("Effect") == "Allow"
            and LAMBDA_PRINCIPAL in services
            and "sts:AssumeRole" in actions
        ):
            return True
    return False


def resource_policy_statements(response: dict | None) -> list[dict]:
    """The statements of a function's resource policy, from GetPolicy's answer (None: no policy)."""
    return json.loads(response["Policy"]).get("Statement", []) if response and response.get("Policy") else []


def is_s3_statement(statement: dict) -> bool:
    """Whether a resource-policy statement (with an id) is for S3, the principal of a bucket trigger."""
    principal = statement.get("Principal") or {}
    return (
        isinstance(principal, dict)
        and principal.get("Service") == S3_PRINCIPAL
        and bool(statement.get("Sid"))
    )


def grants_s3_invoke(statement: dict, bucket_arn: str) -> bool:
    """Whether a resource-policy statement lets S3 invoke the function for events of this bucket."""
    principal = statement.get("Principal") or {}
    service = principal.get("Service") if isinstance(principal, dict) else principal
    condition = statement.get("Condition") or {}
    source = (condition.get("ArnLike") or {}).get("AWS:SourceArn") or (condition.get("ArnEquals") or {}).get(
        "AWS:SourceArn"
    )
    return service == S3_PRINCIPAL and source == bucket_arn


def s3_statement_id(bucket: str) -> str:
    """The id deploy gives the statement that lets this bucket's notifications invoke the function."""
    return "s3-invoke-" + re.sub(r"[^A-Za-z0-9_-]", "-", bucket)
