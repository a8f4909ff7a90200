"""gunicorn settings for the web process (install pages, portal settings, admin, health)."""

import multiprocessing
import os

bind = os.environ.get("VIBE_WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("VIBE_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("VIBE_WEB_THREADS", 2))
# gunicorn's threaded worker, but a request whose client stops sending mid-way is ended after
# VIBE_WEB_READ_PAUSE_SECONDS instead of holding its thread until the client hangs up (vibeapp/web_worker.py).
worker_class = "vibeapp.web_worker.ReadPauseLimitedWorker"
# Pages call GET /v1/me while a user waits; give the platform time, but not forever.
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
# Never log query strings: OAuth callbacks carry a one-time code there. The gateway's request id ("-" when
# none) ties the line to the app's own lines for the request, which carry it as request_id.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss request_id=%({x-vibe-request-id}i)s'
forwarded_allow_ips = os.environ.get("VIBE_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's own lines and access lines redacted as the app's are (a path, a request id or a refused request
# line may quote a token as a client sent it), in the app's format (VIBE_LOG_FORMAT=json: one JSON object a
# line, not gunicorn's text beside the app's JSON); the request id only when well-formed, as the app's lines.
from ops.logs import build_gunicorn_logging  # noqa: E402 - after the settings above, as gunicorn reads them

logconfig_dict = build_gunicorn_logging(os.environ.get("VIBE_LOG_FORMAT", "text"))
# No control socket: nothing here uses gunicornc, and its default path under $HOME is unwritable with the
# unit's ProtectHome=true (a warning at every start) and shared by two instances on one host.
control_socket_disable = True
