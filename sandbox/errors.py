"""Errors a user can cause. Each carries one sentence that says what happened and what to do; the CLI
prints that sentence alone, never a traceback."""


class SandboxError(Exception):
    """An expected failure with a message meant for the user."""


class ConfigError(SandboxError):
    """A bad configuration value (flag, environment variable, page field or API call)."""
