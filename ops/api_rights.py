"""Who may use the operator API: a staff account holding the admin's right on each model a request touches.

Reading takes the right the admin's list takes (view, or change, which includes it); an action takes the right
its admin action names (change). A superuser holds every right; the Operators group (ops/operators.py) holds
those of the project's own models. Staff status alone opened the whole API (every portal, the users' message
texts in event payloads, pause and uninstall) to an account the admin refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_permission_codename
from django.db.models import Model
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


def _permission(right: str, model: type[Model]) -> str:
    return f"{model._meta.app_label}.{get_permission_codename(right, model._meta)}"


def may_read(user: Any, models: Iterable[type[Model]]) -> bool:
    """Whether `user` may read these models as the admin lets them: the view right, or change (which holds
    it). The operator API and the admin's fleet dashboard both ask it."""
    return all(
        user.has_perm(_permission("view", model)) or user.has_perm(_permission("change", model))
        for model in models
    )


class OperatorRights(BasePermission):
    """The view names what it touches: `rights_models` (read), `action_rights` (action name -> right). A write
    that no entry names is refused, so a new action is closed until its right is chosen."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_active and user.is_staff):
            return False
        models: tuple[type[Model], ...] = getattr(view, "rights_models", ())
        if not hasattr(view, (request.method or "").lower()):
            # No handler: the view answers 405, telling a script its mistake (a 403 said a right was missing).
            return True
        if request.method in SAFE_METHODS:
            return may_read(user, models)
        action_rights: Mapping[str, str] = getattr(view, "action_rights", {})
        right = action_rights.get(getattr(view, "action", None) or "")
        return right is not None and all(user.has_perm(_permission(right, model)) for model in models)
