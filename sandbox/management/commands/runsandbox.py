"""`manage.py runsandbox`: the local VibeCode platform in the foreground."""

from __future__ import annotations

import gc
import os
import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sandbox.demo import find_demo, seed_demo
from sandbox.dialects import DIALECTS, parse_dialects
from sandbox.hosts import allowed_hosts, host_name, is_loopback
from sandbox.persistence import load_platform, save_platform
from sandbox.runner import build_servers, serve
from sandbox.server import make_services
from sandbox.state import StateError

# Full collections considered 10x less often than CPython's default (10): a sandbox serving thousands of
# bots holds a long-poll open for each, and with the default a full collection (every object scanned while
# every answer waits) came every few seconds and took up to 0.7 s at 10,000 bots, pausing the platform
# the benchmarks measure against. The held requests leave no cyclic garbage, so rare collections cost no
# memory. (botcore's poller makes the same choice for the same reason; the two share no code.)
FULL_COLLECTION_THRESHOLD = 100


class Command(BaseCommand):
    help = "Run the local VibeCode platform (API, OAuth, control API, chat page; optionally the gateway)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument(
            "--gateway-port", type=int, default=0, help="also run the gateway in front of --app-url"
        )
        parser.add_argument(
            "--app-url", default="http://127.0.0.1:8000", help="the app the gateway stands in front of"
        )
        parser.add_argument(
            "--session-ttl", type=float, default=None, help="session token lifetime in seconds"
        )
        parser.add_argument(
            "--rate-limit", type=float, default=None, help="default requests per second per key"
        )
        parser.add_argument(
            "--dialect",
            action="append",
            default=[],
            metavar="NAME[,NAME…]",
            help=f"speak an alternative reading of the platform (repeatable); known: {', '.join(DIALECTS)}",
        )
        parser.add_argument(
            "--allowed-host",
            action="append",
            default=[],
            metavar="NAME",
            help="a host name the control API answers besides loopback's and --host's (repeatable; also"
            " SANDBOX_ALLOWED_HOSTS, comma-separated): the name containers or other machines reach it by",
        )
        parser.add_argument("--demo", action="store_true", help="seed a demo portal, users and app")
        parser.add_argument(
            "--state-file",
            default=None,
            help="keep the platform (portals, keys, sessions, bots, chats, events) here across restarts",
        )
        parser.add_argument(
            "--demo-app-key",
            # From the environment by default: an argument shows on every process list (`ps`), the
            # environment does not.
            default=os.environ.get("SANDBOX_DEMO_APP_KEY") or None,
            help="with --demo: the app key to issue (else random); prefer SANDBOX_DEMO_APP_KEY in the env",
        )

    def handle(self, *args, **options):
        import uvloop

        try:
            dialects = parse_dialects(options["dialect"])
        except ValueError as error:
            raise CommandError(f"--dialect: {error}") from None
        state_file = Path(options["state_file"]) if options["state_file"] else None
        restored = load_platform(state_file) if state_file else None
        # The dialects are how this run speaks, not state: a restored platform speaks what it is told now.
        # The address it is bound to is its own name too (0.0.0.0 and :: name no host; loopback is answered).
        bound = [options["host"]] if options["host"] not in ("0.0.0.0", "::", "") else []
        bound = [host for host in bound if not is_loopback(host_name(host))]
        services = make_services(
            restored, dialects=dialects, allowed_hosts=allowed_hosts([*bound, *options["allowed_host"]])
        )
        platform = services.platform
        if options["session_ttl"] is not None:
            platform.session_ttl = options["session_ttl"]
        if options["rate_limit"] is not None:
            platform.default_rate_limit = options["rate_limit"]
        demo = None
        if options["demo"]:
            if restored is not None and options["demo_app_key"]:
                demo = find_demo(platform, options["demo_app_key"])
            if demo is None:
                try:
                    demo = seed_demo(platform, app_key=options["demo_app_key"])
                except ValueError as error:
                    raise CommandError(f"--demo-app-key: {error}") from None
                except StateError:
                    raise CommandError(
                        "the state file already holds a demo portal made for another app key: "
                        "pass that --demo-app-key, or delete the --state-file to start afresh"
                    ) from None
        servers = build_servers(
            services,
            host=options["host"],
            port=options["port"],
            gateway_port=options["gateway_port"] or None,
            app_url=options["app_url"],
            app_key=demo.app_key if demo else None,
        )
        self._print_where_to_go(options, demo, services.platform.dialects, services.allowed_hosts)
        # SIGTERM (a supervisor, a test) stops the servers as gracefully as Ctrl-C does.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
        gc.freeze()  # what the process holds once started (Django, a saved state) is never scanned again
        try:
            uvloop.run(serve(servers))
        except KeyboardInterrupt:
            # uvicorn re-raises the Ctrl-C it caught once every server has shut down cleanly.
            pass
        if state_file is not None:
            save_platform(services.platform, state_file)
            self.stdout.write(f"Sandbox state saved to {state_file}.")
        self.stdout.write("Sandbox stopped.")

    def _print_where_to_go(
        self, options, demo, dialects: frozenset[str], services_hosts: frozenset[str] = frozenset()
    ) -> None:
        base = f"http://{options['host']}:{options['port']}"
        lines = [
            "VibeCode sandbox is running.",
            f"  Chat page (play portal users):  {base}/chat",
            f"  Platform API:                   {base}/v1   (GET {base}/v1/me to check a key)",
            f"  OAuth consent:                  {base}/v1/oauth/authorize?app_key=…&redirect_uri=…&state=…",
            f"  Control API:                    {base}/_sandbox   (overview: GET {base}/_sandbox/state)",
            f"  Dialects:                       {', '.join(sorted(dialects)) or 'none'}",
        ]
        if services_hosts:
            hosts = ", ".join(sorted(services_hosts))
            lines.append(f"  Control API also answers host:  {hosts}   (and loopback)")
        if options["gateway_port"]:
            gateway = f"http://{options['host']}:{options['gateway_port']}"
            login = f"{gateway}/_gateway/login"
            lines.append(f"  Open the app as a portal user:  {login}   (gateway -> {options['app_url']})")
            lines.append(f"  The app in a portal's frame:    {base}/portal")
        if demo is not None:
            people = ", ".join(
                f"{u.name} (id {u.id}, {'admin' if u.is_admin else 'member'})" for u in demo.users
            )
            # The key itself is never printed: --demo-app-key chooses it.
            origin = "as given" if options["demo_app_key"] else "random; choose one with --demo-app-key"
            lines += [
                f"  Demo portal {demo.portal.domain} ({demo.portal.name!r}): {people}",
                f"  Demo app {demo.app.name!r}, scopes {', '.join(sorted(demo.app.scopes))}, "
                f"key {demo.app_key[:13]}… ({origin})",
            ]
        lines.append("  Stop with Ctrl-C.")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
