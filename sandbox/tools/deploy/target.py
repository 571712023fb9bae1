"""Where deploy goes: the sandbox, another local endpoint, or AWS — and the boto3 clients for it."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.config import DEFAULT_ENDPOINT_URL, DEFAULT_REGION, LOCAL_CREDENTIALS
from sandbox.tools.deploy.aws_errors import DeployError, aws_failure, no_region


@dataclass(frozen=True)
class ResolvedTarget:
    kind: str  # "sandbox" | "endpoint" | "aws"
    endpoint_url: str | None
    region: str
    profile: str | None
    label: str

    def clients(self) -> Callable[[str], Any]:
        import boto3
        from botocore.config import Config

        try:
            if self.kind == "aws":
                session = boto3.Session(profile_name=self.profile, region_name=self.region)
            elif self.kind == "sandbox" or not self.profile:
                # The sandbox accepts any credentials; these are the ones its banner prints.
                session = boto3.Session(**LOCAL_CREDENTIALS, region_name=self.region)
            else:
                session = boto3.Session(profile_name=self.profile, region_name=self.region)
        except Exception as exc:
            raise aws_failure(exc, "session", "create", None) from None
        if self.kind == "aws":
            # AWS_ENDPOINT_URL (pasted from the sandbox's banner) must not send an AWS deploy elsewhere.
            config = Config(
                retries={"max_attempts": 6, "mode": "standard"}, ignore_configured_endpoint_urls=True
            )
            return lambda service: session.client(service, config=config)
        config = Config(retries={"max_attempts": 2, "mode": "standard"})
        return lambda service: session.client(service, endpoint_url=self.endpoint_url, config=config)


def probe_endpoint(url: str, timeout: float = 2.0) -> str | None:
    """'sandbox' when a sandbox answers GET <url>/_sandbox/health with JSON carrying "status", 'endpoint'
    when something else answers there, None when nothing listens."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_sandbox/health", timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
            return "sandbox" if isinstance(body, dict) and "status" in body else "endpoint"
    except urllib.error.HTTPError:
        return "endpoint"
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return "endpoint"
        raise DeployError(
            f"--endpoint-url must be a URL such as {DEFAULT_ENDPOINT_URL}; got {url!r}."
        ) from None
    except (urllib.error.URLError, OSError):
        return None


def resolve_target(args) -> ResolvedTarget:
    """--aws: AWS. --endpoint-url (or AWS_ENDPOINT_URL): that endpoint, which must answer. Neither: the
    sandbox on its default port if one is running, else AWS. ``args``: the parsed command line (region,
    profile, endpoint_url, aws)."""
    region = args.region
    if getattr(args, "aws", False):
        if args.endpoint_url:
            raise DeployError("--aws and --endpoint-url contradict each other: keep one.")
        return ResolvedTarget("aws", None, region or _aws_region(args.profile), args.profile, "AWS")
    endpoint, source = args.endpoint_url, "--endpoint-url"
    if not endpoint and os.environ.get("AWS_ENDPOINT_URL"):
        endpoint, source = os.environ["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL"
    if endpoint:
        kind = probe_endpoint(endpoint)
        if kind is None:
            hint = (
                " (it comes from the AWS_ENDPOINT_URL environment variable; unset it or pass --aws to deploy "
                "to AWS)"
                if source == "AWS_ENDPOINT_URL"
                else "; leave out --endpoint-url to deploy to AWS"
            )
            raise DeployError(
                f"Nothing answers at {endpoint}: start the sandbox first (make run, or python "
                f"run_local.py){hint}.",
                "EndpointUnreachable",
            )
        label = f"the sandbox at {endpoint}" if kind == "sandbox" else f"the endpoint {endpoint}"
        return ResolvedTarget(kind, endpoint, region or DEFAULT_REGION, args.profile, label)
    if probe_endpoint(DEFAULT_ENDPOINT_URL, timeout=1.0) == "sandbox":
        return ResolvedTarget(
            "sandbox",
            DEFAULT_ENDPOINT_URL,
            region or DEFAULT_REGION,
            None,
            f"the sandbox at {DEFAULT_ENDPOINT_URL} (running, so it is the default; --aws targets AWS)",
        )
    return ResolvedTarget("aws", None, region or _aws_region(args.profile), args.profile, "AWS")


def _aws_region(profile: str | None) -> str:
    import boto3

    try:
        region = boto3.Session(profile_name=profile).region_name
    except Exception as exc:
        raise aws_failure(exc, "session", "create", None) from None
    if not region:
        raise no_region()
    return region
