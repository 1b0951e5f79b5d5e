"""The exception the drop-ins raise for a bad argument: a ValueError (this package's rule) that is
also an AssertionError, because Captum asserts its arguments and code written against Captum
catches AssertionError."""

from __future__ import annotations

import contextlib


class CaptumArgumentError(ValueError, AssertionError):
    """A bad argument to a drop-in; the message names it and the fix."""


@contextlib.contextmanager
def captum_errors():
    """Inside, a ValueError from this package's argument checks leaves as CaptumArgumentError
    (same message); wrap argument checking only, never a call of the user's forward function."""
    try:
        yield
    except CaptumArgumentError:
        raise
    except ValueError as error:
        raise CaptumArgumentError(str(error)) from error
