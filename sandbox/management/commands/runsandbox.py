"""`manage.py runsandbox`: the local VibeCode platform in the foreground."""
from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand

from sandbox.runner import build_servers, serve
from sandbox.server import make_services


class Command(BaseCommand):
    help = "Run the local VibeCode platform sandbox (API, OAuth, control API, chat page; optionally the gateway)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--gateway-port", type=int, default=0, help="also run the gateway in front of --app-url")
        parser.add_argument("--app-url", default="http://127.0.0.1:8000", help="the app the gateway stands in front of")
        parser.add_argument("--session-ttl", type=float, default=None, help="session token lifetime in seconds")
        parser.add_argument("--rate-limit", type=float, default=None, help="default requests per second per key")
        parser.add_argument("--demo", action="store_true", help="seed a demo portal, users and app")
        parser.add_argument("--demo-app-key", default=None, help="with --demo: the app key to issue (else random)")

    def handle(self, *args, **options):
        import uvloop

        services = make_services()
        platform = services.platform
        if options["session_ttl"] is not None:
            platform.session_ttl = options["session_ttl"]
        if options["rate_limit"] is not None:
            platform.default_rate_limit = options["rate_limit"]
        if options["demo"]:
            from sandbox.demo import seed_demo

            demo = seed_demo(platform, app_key=options["demo_app_key"])
            self.stdout.write(f"Demo portal {demo.portal.domain} seeded ({len(demo.users)} users).")
        servers = build_servers(
            services,
            host=options["host"],
            port=options["port"],
            gateway_port=options["gateway_port"] or None,
            app_url=options["app_url"],
        )
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"Sandbox API on {base}/v1, chat page on {base}/chat, control API on {base}/_sandbox")
        if options["gateway_port"]:
            self.stdout.write(f"Gateway on http://{options['host']}:{options['gateway_port']} -> {options['app_url']}")
        uvloop.run(serve(servers))
