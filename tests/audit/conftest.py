"""The audit tests on a stored log use the store tests' requests as filed."""

from tests.store.conftest import make_request

__all__ = ["make_request"]
