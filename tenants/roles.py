"""An admin's role, confirmed again with the platform: a demotion on the portal ends the app's admin rights
within TENANTS_ROLE_RECHECK_SECONDS, not when the session ends.

The platform sends nothing when a portal demotes a user, and a browser session lives as long as its token
(a day). So while a viewer uses admin rights, their grant's role is asked again (GET /v1/me with the
grant's own token) once the last confirmation is older than the setting. It fails closed: when the platform
cannot be asked, admin rights wait (the user stays signed in as a member); when it refuses the token, the
token is retired as any refused credential is, and the browser session ends with it.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from tenants.errors import InstallationError
from tenants.identity import get_identity_backend
from tenants.models import SessionGrant
from tenants.selectors import get_grant_credential
from tenants.services import report_credential_refused

log = logging.getLogger(__name__)


def confirm_admin_role(grant: SessionGrant) -> bool:
    """Whether the grant's user is the portal's admin now, as far as the platform last said (see above)."""
    if not grant.is_admin:
        return False  # a promotion arrives with the user's next visit; no right is at stake here
    now = timezone.now()
    if grant.confirmed_lately(at=now):
        return True
    credential = get_grant_credential(grant)
    try:
        identity = get_identity_backend().verify_session(credential.secret)
    except InstallationError as error:
        if error.is_transient or error.refuses_app_key:
            log.warning(
                "admin role not confirmed (the platform could not be asked, or refused the app's key)"
                " portal=%s user=%s:"
                " admin rights wait",
                grant.portal.member_id,
                grant.bitrix_user_id,
            )
        else:
            log.info("session refused while confirming a role portal=%s user=%s", grant.portal.member_id,
                     grant.bitrix_user_id)  # fmt: skip
            report_credential_refused(grant.portal, credential=credential)
        return False
    if identity.member_id != grant.portal.member_id or identity.bitrix_user_id != grant.bitrix_user_id:
        log.warning("role check answered for another user portal=%s user=%s", grant.portal.member_id,
                    grant.bitrix_user_id)  # fmt: skip
        return False
    SessionGrant.objects.filter(pk=grant.pk, obtained_at=grant.obtained_at).update(
        is_admin=identity.is_admin, user_name=identity.user_name[:255], role_checked_at=now
    )
    if not identity.is_admin:
        log.info(
            "admin demoted on the platform portal=%s user=%s", grant.portal.member_id, grant.bitrix_user_id
        )
    return identity.is_admin
