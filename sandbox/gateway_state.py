"""The gateway's own state: cookie sessions that slide, one-time __init tickets, the app it fronts.

All of it is read against the platform the services hold *now*: a reset replaces the platform, and
every gateway session or ticket minted on the old one is then worthless.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from sandbox.gateway_proxy import make_http_client
from sandbox.records import App, Session, User
from sandbox.state import Platform

IDLE_SECONDS = 600.0  # the real gateway's cookie slides for about 10 minutes
INIT_TTL_SECONDS = 300.0  # the real __init token lives about 5 minutes


class GatewayRefusal(Exception):
    """Something the person must fix; answered as an HTML page with this status."""

    def __init__(self, title: str, message: str, status: int):
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


@dataclass
class GatewaySession:
    id: str  # the cookie value: random, opaque, meaningless to the app
    platform: Platform  # the platform its token was minted on (a reset replaces it)
    session: Session
    expires_at: datetime


@dataclass
class InitTicket:
    token: str
    platform: Platform
    session: Session
    expires_at: datetime


class Gateway:
    """The gateway's own state: cookie sessions, one-time __init tickets, and the HTTP client to the app."""

    def __init__(self, services: Any, app_url: str, app_key: str | None) -> None:
        self.services = services
        self.app_url = httpx.URL(app_url.rstrip("/"))
        self.app_key = app_key
        self.sessions: dict[str, GatewaySession] = {}
        self.tickets: dict[str, InitTicket] = {}
        self.http = make_http_client()

    @property
    def platform(self) -> Platform:
        return self.services.platform  # read on every use: a reset replaces it

    def fronted_app(self) -> App:
        platform = self.platform
        if self.app_key is not None:
            key = platform.keys.get(self.app_key)
            if key is None or key.kind != "app" or key.app_id not in platform.apps:
                raise GatewayRefusal(
                    "The app is not on the platform",
                    "The gateway fronts an app whose key the sandbox does not know (was the sandbox reset?).",
                    404,
                )
            return platform.apps[key.app_id]
        if not platform.apps:
            raise GatewayRefusal(
                "No app to open",
                "The sandbox has no app yet: create one (POST /_sandbox/apps) or run runsandbox --demo.",
                404,
            )
        return platform.apps[min(platform.apps)]

    def mint_session(self, user: User) -> Session:
        return self.platform.create_session(app=self.fronted_app(), user=user)

    def open_session(self, session: Session) -> GatewaySession:
        now = self.platform.now()
        stale = [s for s in self.sessions.values() if s.expires_at <= now or s.platform is not self.platform]
        for gone in stale:
            del self.sessions[gone.id]
        opened = GatewaySession(
            id=secrets.token_urlsafe(32),
            platform=self.platform,
            session=session,
            expires_at=now + timedelta(seconds=IDLE_SECONDS),
        )
        self.sessions[opened.id] = opened
        return opened

    def find_session(self, cookie: str | None) -> GatewaySession | None:
        """The live gateway session behind a cookie, its idle time restarted; None if there is none."""
        found = self.sessions.get(cookie or "")
        if found is None:
            return None
        now = self.platform.now()
        alive = (
            found.platform is self.platform
            and self.platform.sessions.get(found.session.token) is found.session
            and found.expires_at > now
        )
        if not alive:
            del self.sessions[found.id]
            return None
        found.expires_at = now + timedelta(seconds=IDLE_SECONDS)
        return found

    def forget_session(self, cookie: str | None) -> None:
        self.sessions.pop(cookie or "", None)

    def issue_ticket(self, session: Session) -> InitTicket:
        now = self.platform.now()
        for stale in [t for t in self.tickets.values() if t.expires_at <= now]:
            del self.tickets[stale.token]
        ticket = InitTicket(
            token="init_" + secrets.token_urlsafe(32),
            platform=self.platform,
            session=session,
            expires_at=now + timedelta(seconds=INIT_TTL_SECONDS),
        )
        self.tickets[ticket.token] = ticket
        return ticket

    def redeem_ticket(self, token: str) -> GatewaySession | None:
        ticket = self.tickets.pop(token, None)  # single use, whatever happens next
        if ticket is None or ticket.platform is not self.platform or ticket.expires_at <= self.platform.now():
            return None
        return self.open_session(ticket.session)
