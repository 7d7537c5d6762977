"""The one kind of failure a person is shown: what was wrong and what would work."""


class UserError(Exception):
    """Bad input or an impossible request; raised before anything is written."""
