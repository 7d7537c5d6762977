"""CLI commands: digests."""

from reliability.cli import app  # noqa: F401
