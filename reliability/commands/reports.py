"""CLI commands: reports."""

from reliability.cli import app  # noqa: F401
