"""Real local servers (SMTP, Slack Web API) for tests, benchmarks and the demo."""
