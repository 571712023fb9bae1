"""What deploy and destroy print: a line per step, its outcome on the same line, the calls below it.

Step 1/4  IAM role ... created, AmazonS3FullAccess + AWSLambdaBasicExecutionRole
Step 2/4  Lambda function ... (dry run) would call:
            lambda CreateFunction FunctionName=...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.tools.deploy.report import Call, DeployReport, StepResult

STEPS = 4  # the guide's four steps: role, function, layer, trigger
CALL_INDENT = " " * 12
NOTE_INDENT = " " * 10


class Printer:
    def __init__(self, out, dry_run: bool):
        self._out = out
        self._dry_run = dry_run
        self._step_open = False  # a "Step n/4 ... " line waiting for its outcome

    def line(self, text: str = "") -> None:
        self._end_step_line()
        self._print(text)

    def call(self, call: Call) -> None:
        if self._step_open:
            self._end_step_line("(dry run) would call:" if self._dry_run else "")
        self._print(f"{CALL_INDENT}{call.describe()}")

    @contextmanager
    def step(self, report: DeployReport, number: int, name: str) -> Iterator[StepResult]:
        """Announce step ``number``, let the caller fill in its outcome and notes, then print them (the
        outcome is "failed" when the step raises; the exception goes on)."""
        result = report.add_step(number, name)
        self._end_step_line()
        self._print(f"Step {number}/{STEPS}  {name} ... ", end="")
        self._step_open = True
        try:
            yield result
        except BaseException:
            self._finish_step(result, "failed", failed=True)
            raise
        self._finish_step(result, result.outcome, failed=False)

    def _finish_step(self, result: StepResult, outcome: str, failed: bool) -> None:
        if self._step_open:
            self._end_step_line(outcome)
        elif not self._dry_run or failed:
            self._print(f"{CALL_INDENT}... {outcome}")  # below the calls printed since the step's line
        for note in result.notes:
            self._print(f"{NOTE_INDENT}note: {note}")

    def _end_step_line(self, text: str = "") -> None:
        if self._step_open:
            self._print(text)
            self._step_open = False

    def _print(self, text: str, end: str = "\n") -> None:
        print(text, end=end, file=self._out, flush=True)
