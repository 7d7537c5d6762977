"""CLI commands: slack."""

from reliability.cli import app  # noqa: F401
