"""The contract between the outbox and the transports (email, Slack).

A notice that is lost or sent twice defeats the product, so every transport reports each
message as delivered (SendResult) or failed (DeliveryError) and says whether a retry can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered notice for one recipient; the key stays the same across retries."""

    idempotency_key: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    blocks: list[dict[str, Any]] | None = None
    reply_to: str | None = None
    recipient_name: str | None = None


@dataclass(frozen=True)
class SendResult:
    """Proof of delivery: the provider's id for the message (Message-ID, or "channel:ts")."""

    provider_id: str
    duration_ms: float


class DeliveryError(Exception):
    """A message did not go out, phrased for the person who will read the outbox.

    permanent: retrying cannot help (bad address, revoked token, unknown channel).
    retry_after: seconds the provider asked us to wait, when it said so.
    maybe_sent: the provider may have accepted it before the failure (connection lost after
    the content went out), so the outbox should check before sending again.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.reason!r}, permanent={self.permanent}, "
            f"retry_after={self.retry_after}, maybe_sent={self.maybe_sent})"
        )
