"""The one kind of failure a person is shown: what was wrong and what would work."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an impossible request; raised before anything is written.

    `field` names the input at fault in the service's words (e.g. "due", "text", "client"),
    so each interface can point at its own control for it (a CLI option, a form field, a
    Slack modal block, an API JSON key); `hint` says what would work."""

    def __init__(self, message: str, *, field: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message
