"""The web side: dashboard pages, the JSON API and the Slack request URL, in one ASGI app."""
