"""The transports by the name a message's `channel` column gives, as healthchecks keeps its
integrations: the outbox looks a transport up here and knows nothing else about it."""

from __future__ import annotations

import ssl
from collections.abc import Callable

from reliability.channels import Channel, DeliveryError
from reliability.channels.email import EmailChannel
from reliability.channels.slack import SlackChannel
from reliability.channels.webhook import WebhookChannel
from reliability.config import Settings

Factory = Callable[[Settings, ssl.SSLContext | None], Channel]
TRANSPORTS: dict[str, Factory] = {
    EmailChannel.name: EmailChannel.from_settings,
    SlackChannel.name: SlackChannel.from_settings,
    WebhookChannel.name: WebhookChannel.from_settings,
}


def channel_for(name: str, settings: Settings,
                tls_context: ssl.SSLContext | None = None) -> Channel:
    """The transport called `name`, set up from settings; a permanent DeliveryError when
    there is none by that name or it is not set up, since no retry can change that."""
    factory = TRANSPORTS.get(name)
    if factory is None:
        raise DeliveryError(f"There is no way to deliver by {name!r}: the transports are "
                            + ", ".join(sorted(TRANSPORTS)), permanent=True)
    return factory(settings, tls_context)
