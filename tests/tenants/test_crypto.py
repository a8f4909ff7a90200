import pytest
from cryptography.fernet import Fernet

from tenants.crypto import decrypt_secret, encrypt_secret, rotate_secret
from tenants.errors import SecretDecryptionError
from tenants.fields import Ciphertext
from tenants.models import SessionGrant


def test_encrypted_secret_round_trips_and_never_equals_the_plaintext():
    ciphertext = encrypt_secret("vibe_session_абв🙂")
    assert "vibe_session" not in ciphertext
    assert decrypt_secret(ciphertext) == "vibe_session_абв🙂"


def test_decrypting_with_the_wrong_key_raises_a_clear_error_not_ciphertext(settings):
    ciphertext = encrypt_secret("vibe_session_x")
    settings.TENANTS_FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretDecryptionError) as caught:
        decrypt_secret(ciphertext)
    assert ciphertext not in str(caught.value)


def test_tampered_ciphertext_is_refused():
    ciphertext = encrypt_secret("vibe_session_x")
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(ciphertext[:-4] + "AAAA")


def test_old_key_still_decrypts_after_a_new_key_is_put_first(settings):
    old = settings.TENANTS_FERNET_KEYS[0]
    ciphertext = encrypt_secret("vibe_session_x")
    settings.TENANTS_FERNET_KEYS = [Fernet.generate_key().decode(), old]
    assert decrypt_secret(ciphertext) == "vibe_session_x"
    rotated = rotate_secret(ciphertext)
    settings.TENANTS_FERNET_KEYS = settings.TENANTS_FERNET_KEYS[:1]
    assert decrypt_secret(rotated) == "vibe_session_x"


def test_assigning_a_token_encrypts_it_immediately_and_prints_masked():
    grant = SessionGrant(token="vibe_session_secret")
    assert isinstance(grant.token, Ciphertext)
    assert "vibe_session_secret" not in repr(grant.token) + str(grant.token) + grant.token.raw
    assert decrypt_secret(grant.token.raw) == "vibe_session_secret"
