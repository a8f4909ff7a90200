"""ops fixtures: the sandbox platform of tests/tenants (its real GET /v1/me) for actions that verify
sessions."""

from tests.tenants.conftest import platform  # noqa: F401  (a fixture, used by name)
