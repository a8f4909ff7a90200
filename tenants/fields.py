"""EncryptedSecretField: a text column that only ever holds Fernet ciphertext.

Assigning a plain `str` encrypts it on save; loading gives back a `Ciphertext`, which prints masked and is
opened only by `tenants.selectors` through `crypto.decrypt_secret`. So a stray `print(grant.token)`, a
template, the admin or a log line can never show the secret.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from tenants import crypto


class Ciphertext(str):
    """Fernet ciphertext as loaded from the database; `str()` and `repr()` are masked."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<Ciphertext ••••>"

    def __str__(self) -> str:
        return "••••"

    @property
    def raw(self) -> str:
        return str.__str__(self)


class _EncryptOnAssign:
    """Encrypts a plain string the moment it is assigned, so no model instance ever holds the secret."""

    def __init__(self, field: models.Field[Any, Any]) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.__dict__.get(self.field.attname)

    def __set__(self, instance: models.Model, value: object) -> None:
        if value is not None and value != "" and not isinstance(value, Ciphertext):
            value = Ciphertext(crypto.encrypt_secret(str(value)))
        instance.__dict__[self.field.attname] = value


class EncryptedSecretField(models.TextField[Any, Any]):
    description = "A secret stored encrypted with the project's Fernet keys"

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        setattr(cls, self.attname, _EncryptOnAssign(self))

    def from_db_value(
        self, value: str | None, expression: object, connection: BaseDatabaseWrapper
    ) -> Ciphertext | None:
        return None if value is None else Ciphertext(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == "":
            return None if value is None else ""
        if isinstance(value, Ciphertext):
            return value.raw
        return crypto.encrypt_secret(str(value))

    def value_to_string(
        self, obj: models.Model
    ) -> str:  # serialisation (dumpdata, fixtures) carries ciphertext only
        value = self.value_from_object(obj)
        return value.raw if isinstance(value, Ciphertext) else ""
