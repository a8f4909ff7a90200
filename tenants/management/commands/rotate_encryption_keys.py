"""`manage.py rotate_encryption_keys`: re-encrypt every stored secret under the newest Fernet key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from tqdm import tqdm

from tenants.crypto import is_encrypted_with_newest_key, rotate_secret
from tenants.errors import SecretDecryptionError
from tenants.fields import Ciphertext, EncryptedSecretField


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    for model in apps.get_models():
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedSecretField)]
        if names:
            yield model, names


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret under the newest key of TENANTS_FERNET_KEYS (VIBE_FERNET_KEYS), in batches. "
        "Add the new key last and restart every process, then move it first and restart them again, run "
        "this, then drop the old keys and restart again (docs/operators.md, Key rotation). "
        "Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args: Any, batch_size: int, no_progress: bool, **options: Any) -> None:
        total_rotated = 0
        # Rows no configured key opens (an old key dropped too soon): the rest are rotated, then these named.
        unreadable: list[str] = []
        for model, names in encrypted_fields():
            label = model._meta.label
            pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
            rotated = 0
            with tqdm(
                total=len(pks), desc=label, unit="row", disable=no_progress, file=self.stderr._out
            ) as bar:
                for start in range(0, len(pks), batch_size):
                    batch = pks[start : start + batch_size]
                    with transaction.atomic():
                        # Lock the batch, so a stale rotation cannot overwrite a concurrent token refresh.
                        for row in model._default_manager.select_for_update().filter(pk__in=batch):
                            changes = {}
                            for name in names:
                                value = getattr(row, name)
                                if value and not is_encrypted_with_newest_key(value.raw):
                                    try:
                                        # already encrypted: stored as is
                                        changes[name] = Ciphertext(rotate_secret(value.raw))
                                    except SecretDecryptionError:
                                        unreadable.append(f"{label} {row.pk}")
                            if changes:
                                model._default_manager.filter(pk=row.pk).update(**changes)
                                rotated += 1
                    bar.update(len(batch))
            total_rotated += rotated
            self.stdout.write(f"{label}: {rotated} of {len(pks)} rows re-encrypted")
        if unreadable:
            raise CommandError(
                f"no key of VIBE_FERNET_KEYS opens {len(unreadable)} stored secret(s): "
                f"{', '.join(unreadable[:20])}{' …' if len(unreadable) > 20 else ''}; "
                "put back the key they were encrypted with (after the newest) and run this again, "
                "and keep the old keys until it passes"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Done: {total_rotated} rows re-encrypted under the newest key.")
        )
