"""Encrypts and decrypts secrets with MultiFernet (keys from TENANTS_FERNET_KEYS, newest first); no ORM."""

from __future__ import annotations

import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenants.errors import SecretDecryptionError


def make_fernet(key: str | bytes) -> Fernet:
    """One TENANTS_FERNET_KEYS item as a Fernet; ValueError (or TypeError) when it is not a Fernet key."""
    return Fernet(key.encode() if isinstance(key, str) else key)


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("TENANTS_FERNET_KEYS is empty: secrets cannot be encrypted")
    try:
        return MultiFernet([make_fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("TENANTS_FERNET_KEYS holds a malformed Fernet key") from exc


def current_fernet() -> MultiFernet:
    """The MultiFernet for the keys configured now (read at call time, so tests and rotation see changes)."""
    return _multifernet(tuple(settings.TENANTS_FERNET_KEYS))


def encrypt_secret(plaintext: str) -> str:
    return current_fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(ciphertext: str) -> str:
    """The one place ciphertext becomes a secret again; a key mismatch or tampering raises, never returns
    ciphertext."""
    try:
        return current_fernet().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretDecryptionError(
            "A stored secret could not be decrypted with the configured keys (VIBE_FERNET_KEYS)"
        ) from None


def holds_secret(ciphertext: str, secret: str) -> bool:
    """Whether `ciphertext` is `secret` encrypted, compared in constant time; False where today's keys cannot
    read it (whatever it was, it is not a secret they can vouch for)."""
    try:
        # As bytes: compare_digest refuses a str with a character beyond ASCII.
        return hmac.compare_digest(decrypt_secret(ciphertext).encode(), secret.encode())
    except SecretDecryptionError:
        return False


def rotate_secret(ciphertext: str) -> str:
    """Re-encrypt under the newest key; already-current ciphertext is re-encrypted too, harmlessly."""
    try:
        return current_fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        raise SecretDecryptionError(
            "A stored secret could not be rotated: no configured key opens it"
        ) from None


def is_encrypted_with_newest_key(ciphertext: str) -> bool:
    newest = Fernet(settings.TENANTS_FERNET_KEYS[0].encode())
    try:
        newest.decrypt(ciphertext.encode("ascii"))
    except InvalidToken:
        return False
    return True
