"""ops fixtures: the sandbox platform of tests/tenants (its real GET /v1/me) for actions that verify
sessions; an operator's admin session."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.tenants.conftest import platform  # noqa: F401  (a fixture, used by name)


@pytest.fixture
def operator() -> Client:
    """A superuser's admin session (every right; tests of the Operators group's own rights define theirs)."""
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client
