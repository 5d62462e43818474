"""The one exception type the CLI turns into a one-line message and exit status 2."""


class UserError(Exception):
    """Bad input a user can fix: the message says what was wrong and how to fix it."""
