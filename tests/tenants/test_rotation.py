"""rotate_encryption_keys re-encrypts every secret under the newest key, in batches, and can run again."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from tenants import handshakes, selectors
from tenants.crypto import encrypt_secret, is_encrypted_with_newest_key
from tenants.fields import Ciphertext
from tenants.models import SessionGrant

pytestmark = pytest.mark.django_db(transaction=True)


def test_rotation_moves_every_secret_to_the_newest_key_and_is_safe_to_repeat(platform, settings):
    old_key = settings.TENANTS_FERNET_KEYS[0]
    tokens = set()
    for index in range(7):
        user = platform.admin if index == 0 else platform.add_user(f"Admin {index}", is_admin=True)
        token = platform.session(user)
        tokens.add(token)
        handshakes.accept_gateway_visit(
            session_token=token, claimed_portal_id=platform.portal_id, claimed_user_id=str(user["id"])
        )
    new_key = Fernet.generate_key().decode()
    settings.TENANTS_FERNET_KEYS = [new_key, old_key]

    out = StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "3", "--no-progress", stdout=out)
    assert "tenants.SessionGrant: 7 of 7 rows re-encrypted" in out.getvalue()
    assert all(is_encrypted_with_newest_key(g.token.raw) for g in SessionGrant.objects.all())

    again = StringIO()
    call_command("rotate_encryption_keys", "--no-progress", stdout=again)
    assert "tenants.SessionGrant: 0 of 7 rows re-encrypted" in again.getvalue()

    settings.TENANTS_FERNET_KEYS = [new_key]  # the old key is retired: everything still opens
    portal = SessionGrant.objects.first().portal
    assert selectors.get_portal_credential(portal).secret in tokens


def test_rotation_names_the_secrets_no_configured_key_opens_and_rotates_the_rest(platform, settings):
    """An old key dropped too soon: a CommandError saying which rows and what to do, not a traceback."""
    old_key = settings.TENANTS_FERNET_KEYS[0]
    for user in (platform.admin, platform.add_user("Admin 2", is_admin=True)):
        handshakes.accept_gateway_visit(
            session_token=platform.session(user),
            claimed_portal_id=platform.portal_id,
            claimed_user_id=str(user["id"]),
        )
    lost, kept = SessionGrant.objects.order_by("pk")
    middle, newest = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TENANTS_FERNET_KEYS = [middle]
    SessionGrant.objects.filter(pk=kept.pk).update(token=Ciphertext(encrypt_secret("vibe_session_kept")))
    settings.TENANTS_FERNET_KEYS = [newest, middle]  # `lost` is under old_key, dropped too soon

    with pytest.raises(CommandError, match=rf"tenants\.SessionGrant {lost.pk}\b.*put back the key"):
        call_command("rotate_encryption_keys", "--no-progress", stdout=StringIO())
    assert is_encrypted_with_newest_key(SessionGrant.objects.get(pk=kept.pk).token.raw)
    assert SessionGrant.objects.get(pk=lost.pk).token.raw == lost.token.raw
    assert old_key not in settings.TENANTS_FERNET_KEYS
