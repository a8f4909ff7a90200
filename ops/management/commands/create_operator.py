"""`manage.py create_operator NAME`: a staff account in the Operators group (admin, dashboard, operator API).

The group (ops/operators.py) holds every permission of the project's own apps and the task queue's read-only
pages, nothing of user management; `createsuperuser` remains the way to make an account that manages
accounts. The password is asked for (never an argument, which `ps` would show) before anything is written,
and held to the deployment's password validators; `--api-token` prints a token once, for the operator API
(the database keeps only its digest, ops/tokens.py), lasting OPS_API_TOKEN_DAYS or `--expires-in-days`;
`--revoke-token` withdraws it.
"""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ops.operators import ensure_operators_group
from ops.tokens import issue_operator_token, revoke_operator_token


class Command(BaseCommand):
    help = (
        "Create (or update) an operator: a staff account in the Operators group;"
        " optionally issue an API token."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--no-password", action="store_true", help="API token only; no admin sign-in")
        parser.add_argument(
            "--api-token", action="store_true", help="issue a token for /api/ops/ (printed once)"
        )
        parser.add_argument(
            "--expires-in-days",
            type=int,
            default=None,
            metavar="DAYS",
            help="how long the issued token lasts (default: OPS_API_TOKEN_DAYS; 0: never expires)",
        )
        parser.add_argument(
            "--revoke-token", action="store_true", help="withdraw the operator's API token, and stop"
        )

    def handle(
        self,
        *args,
        username: str,
        email: str,
        no_password: bool,
        api_token: bool,
        expires_in_days: int | None,
        revoke_token: bool,
        **options,
    ):
        model = get_user_model()
        user = model.objects.filter(username=username).first()
        if revoke_token:
            if api_token:
                raise CommandError("--revoke-token and --api-token: choose one")
            if user is None:
                raise CommandError(f"no operator named {username}")
            revoked = revoke_operator_token(user)
            self.stdout.write(
                f"API token of {username} {'revoked' if revoked else 'not found: none to revoke'}."
            )
            return
        if expires_in_days is not None and (not api_token or expires_in_days < 0):
            raise CommandError("--expires-in-days needs --api-token and a number of days, 0 or more")
        created = user is None
        if user is None:
            user = model(username=username, email=email)
        user.is_staff = True
        password_removed = False
        if no_password:
            password_removed = not created and user.has_usable_password()
            user.set_unusable_password()
        elif created or (not api_token and (not user.password or not user.has_usable_password())):
            # A new operator, or one without a password run without --api-token: that run is for a password.
            # Rotating an API-only operator's token asks for none.
            user.set_password(ask_password(user))
        issued = None
        with transaction.atomic():
            user.save()
            user.groups.add(ensure_operators_group())
            if api_token:  # one live token per operator: issuing again rotates it
                issued = issue_operator_token(user, days=expires_in_days)
        self.stdout.write(f"Operator {username} {'created' if created else 'updated'}.")
        if password_removed:
            self.stdout.write(f"Password removed: {username} can no longer sign in to the admin.")
        if issued is not None:
            token, expires_at = issued
            lasts = f"expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "never expires"
            self.stdout.write(
                f"API token ({lasts}; shown once; send it as 'Authorization: Token …'): {token}"
            )


def ask_password(user: User) -> str:
    """The new password, typed twice at the terminal and held to AUTH_PASSWORD_VALIDATORS."""
    try:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Password (again): ")
    except EOFError:
        raise CommandError(
            "no terminal to ask the password at: run it in one, or with --no-password --api-token for an"
            " operator of the API only"
        ) from None
    if not password or password != again:
        raise CommandError("the passwords are empty or differ")
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise CommandError("password refused: " + " ".join(error.messages)) from None
    return password
