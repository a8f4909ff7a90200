"""The Operators group: what a vendor's operator may do (create_operator puts accounts in it).

Every permission of the project's own apps; of the task queue (django-q2) only the pages that read. A
Schedule names any importable function with its arguments, so adding or changing one runs code of the
operator's choosing in every worker, with the keys that decrypt every portal's credentials in reach; and
deleting a queued task drops work. Resubmitting a failed task (its own function) needs only the view right.
Managing accounts stays with superusers.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Q

GROUP_NAME = "Operators"
OPERATOR_APPS = ("tenants", "botcore", "ops")
READ_ONLY_APPS = ("django_q",)


def _granted() -> Q:
    return Q(content_type__app_label__in=OPERATOR_APPS) | Q(
        content_type__app_label__in=READ_ONLY_APPS, codename__startswith="view_"
    )


def ensure_operators_group() -> Group:
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.set(Permission.objects.filter(_granted()))
    return group


def withdraw_ungranted_rights(
    *, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    """After migrate: a group made by an older create_operator loses what operators may no longer do. With
    the migration state's models (auth's may not be migrated yet: a partial migrate has none to fix)."""
    try:
        group_model = apps.get_model("auth", "Group")
    except LookupError:
        return
    group = group_model.objects.using(using).filter(name=GROUP_NAME).first()
    if group is not None:
        ungranted = group.permissions.exclude(_granted()).filter(
            content_type__app_label__in=(*OPERATOR_APPS, *READ_ONLY_APPS)
        )
        group.permissions.remove(*ungranted)
