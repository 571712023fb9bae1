"""What deploy and destroy share: their collaborators, the account lookup, and the trigger's two halves."""

from __future__ import annotations

import sys

from sandbox.config import ACCOUNT_ID
from sandbox.tools.deploy.api import Api, Clients
from sandbox.tools.deploy.aws_errors import DeployError
from sandbox.tools.deploy.options import DeployOptions
from sandbox.tools.deploy.policies import resource_policy_statements
from sandbox.tools.deploy.printer import Printer
from sandbox.tools.deploy.report import DeployReport
from sandbox.tools.deploy.trigger_rules import writable_part


def _looks_like_sandbox(source) -> bool:
    return hasattr(source, "register_function") and hasattr(source, "endpoint_url")


class GuideRun:
    """One deploy or destroy. Its collaborators come in through the constructor: ``api`` makes the calls,
    ``printer`` says what happens, ``report`` keeps it; ``label`` names the target in the first line."""

    action = ""  # "deploy" | "destroy": set by each subclass

    def __init__(self, options: DeployOptions, api: Api, printer: Printer, report: DeployReport, label: str):
        self.options = options
        self.api = api
        self.printer = printer
        self.report = report
        self.label = label

    @classmethod
    def for_clients(cls, session_or_clients, options: DeployOptions | None = None, out=None):
        """A run with real collaborators: validated options, the target, a report and a printer."""
        options = options or DeployOptions()
        options.validate()
        clients = Clients(session_or_clients)
        target = options.target or ("sandbox" if _looks_like_sandbox(session_or_clients) else "aws")
        region = options.region or clients.region()
        report = DeployReport(cls.action, target, region, None, options.dry_run)
        printer = Printer(out or sys.stdout, options.dry_run)
        label = options.target_label or (
            "the sandbox" if target == "sandbox" else "AWS" if target == "aws" else "the endpoint"
        )
        return cls(options, Api(clients, report, printer, options.verbose), printer, report, label)

    @property
    def target(self) -> str:
        return self.report.target

    def function_arn(self, account: str) -> str:
        return f"arn:aws:lambda:{self.report.region}:{account}:function:{self.options.function_name}"

    def identify(self, verb: str) -> str:
        """Who the credentials belong to: the account every ARN is in, and what the header shows."""
        report, printer = self.report, self.printer
        if self.api.dry_run:
            account = ACCOUNT_ID if self.target == "sandbox" else "<account>"
            printer.line(f"{verb} {self.label}, region {report.region} (dry run: account not looked up).")
            report.account = account
            return account
        try:
            identity = self.api.read("sts", "get_caller_identity")
            account, caller = identity["Account"], identity.get("Arn", "")
        except DeployError:
            if self.target == "aws":
                raise
            account, caller = ACCOUNT_ID, ""  # a local endpoint without STS: moto's default account
        report.account = account
        who = f" as {caller}" if caller and self.target == "aws" else ""
        printer.line(f"{verb} {self.label}: account {account}{who}, region {report.region}.")
        return account

    def notification_configuration(self, **read_options) -> dict:
        """The source bucket's notification configuration, as PutBucketNotificationConfiguration takes it."""
        return writable_part(
            self.api.read(
                "s3",
                "get_bucket_notification_configuration",
                Bucket=self.options.source_bucket,
                **read_options,
            )
        )

    def invoke_permissions(self) -> list[dict]:
        """The statements of the function's resource policy (none when it has no policy or does not exist)."""
        return resource_policy_statements(
            self.api.read(
                "lambda",
                "get_policy",
                not_found=("ResourceNotFoundException",),
                FunctionName=self.options.function_name,
            )
        )
