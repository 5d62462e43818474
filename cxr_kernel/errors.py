"""The exception types the CLI turns into a one-line message and exit status 2.

Anything else (a ValueError from inside numpy, a KeyError in our code) is a bug: the CLI lets it
show its traceback and exit with status 1.
"""


class UserError(Exception):
    """Bad input a user can fix: the message says what was wrong and how to fix it."""


class UserValueError(UserError, ValueError):
    """A bad value a user gave (an option, a suite key, a file's content); still a ValueError, so
    library callers that catch ValueError keep working."""


class UserFileNotFound(UserError, FileNotFoundError):
    """A file a user named (or must provide) is missing; the message says where it comes from."""
