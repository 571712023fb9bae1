"""What went wrong, in one sentence for the user: a failed AWS call, a missing credential, a taken name.

Deploy and destroy never show a traceback for a failure the user can fix; every such failure becomes a
``DeployError`` whose message says what happened and what to do, and whose ``code`` is AWS's error code
(or a name of our own, such as ``BucketNameTaken``) for the callers that react to it.
"""

from __future__ import annotations

from sandbox.config import DEFAULT_REGION
from sandbox.errors import SandboxError

# AWS's error codes for "these credentials may not do that" and for "these credentials are not valid".
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "UnauthorizedException",
    }
)
BAD_CREDENTIALS_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidSignatureException",
        "RequestExpired",
    }
)


class DeployError(SandboxError):
    """A deploy or destroy could not go on; the message is one sentence for the user."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


def no_region() -> DeployError:
    return DeployError(
        f"No AWS region is configured: pass --region (for example --region {DEFAULT_REGION}) or "
        f"set one in your AWS profile.",
        "NoRegion",
    )


def bucket_name_taken(bucket: str) -> DeployError:
    return DeployError(
        f"The bucket name {bucket} is taken by another AWS account (bucket names are global "
        f"across all accounts): choose another with --source-bucket / --destination-bucket.",
        "BucketNameTaken",
    )


def aws_failure(exc: Exception, service: str, operation: str, endpoint: str | None) -> DeployError:
    """One sentence for a failed call (or a client or session that could not be made)."""
    from botocore import exceptions as bx

    where = f" ({endpoint})" if endpoint else ""
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return DeployError(
            "No AWS credentials were found: run `aws configure` (or `aws sso login`), set "
            "AWS_PROFILE or pass --profile — or rehearse in the sandbox with --endpoint-url.",
            "NoCredentials",
        )
    if isinstance(exc, bx.NoRegionError):
        return no_region()
    if isinstance(exc, bx.ProfileNotFound):
        return DeployError(
            f"{exc}: list your profiles with `aws configure list-profiles`.", "ProfileNotFound"
        )
    if isinstance(
        exc,
        (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ConnectionClosedError, bx.ReadTimeoutError),
    ):
        return DeployError(
            f"Could not reach the {service} endpoint{where}: check that the sandbox is running "
            f"(make run) or your network connection, then try again.",
            "EndpointUnreachable",
        )
    if isinstance(exc, (bx.TokenRetrievalError, bx.SSOTokenLoadError)):
        return DeployError(
            "Your AWS SSO session has expired: run `aws sso login` and try again.", "ExpiredToken"
        )
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, f"{service}:{operation}")
    if isinstance(exc, bx.WaiterError):
        return DeployError(f"Gave up waiting for the function to be ready: {exc}.", "WaiterError")
    if isinstance(exc, (bx.ParamValidationError, bx.BotoCoreError)):
        return DeployError(f"{service}:{operation} could not be sent: {str(exc).strip()}", type(exc).__name__)
    return DeployError(f"{service}:{operation} failed: {exc}", type(exc).__name__)


def _client_error(exc, operation: str) -> DeployError:
    """An error AWS answered with: its code, and its message in our sentence."""
    error = exc.response.get("Error", {})
    code = error.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    message = (error.get("Message") or exc.response.get("message") or "").strip().rstrip(".")
    if code in ACCESS_DENIED_CODES:
        return DeployError(
            f"Access denied: these credentials may not call {operation} ({message}); ask for that "
            f"permission or use a profile that has it (--profile).",
            code,
        )
    if code in BAD_CREDENTIALS_CODES:
        return DeployError(
            f"AWS rejected the credentials ({code}): they are invalid or expired; refresh them "
            f"(`aws sso login` or `aws configure`) and try again.",
            code,
        )
    return DeployError(f"{operation} failed: {code}: {message or 'no message'}.", code)
