"""/metrics speaks Prometheus text: poll outcomes, finished events with their timings, 429s, and fleet figures
read at scrape time; series of other processes are summed from the multiprocess directory; no per-portal
label."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from botcore.models import Bot, EventLogEntry
from ops.metrics import record_events_stored, record_platform_response, record_poll_outcome
from tenants.models import Portal

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def scrape(client: Client | None = None, **headers) -> dict[str, dict[tuple, float]]:
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


@pytest.fixture
def fleet():
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.bitrix24.com")
    Portal.objects.create(
        member_id="m2", vibe_portal_id="vp2", domain="gone.bitrix24.com", status=Portal.Status.UNINSTALLED
    )
    bot = Bot.objects.create(portal=portal, code="b", name="B", status=Bot.Status.ACTIVE, vibe_bot_id=7)
    Bot.objects.create(
        portal=Portal.objects.get(member_id="m2"), code="b", name="B", status=Bot.Status.BROKEN
    )
    return portal, bot


def test_polls_and_platform_answers_are_counted():
    before = scrape()
    record_poll_outcome(status="polled")
    record_events_stored(event_types=["ONIMBOTV2MESSAGEADD", "ONIMBOTV2MESSAGEADD", "made-up"])
    record_poll_outcome(status="backoff")
    record_platform_response(429)
    after = scrape()
    assert (
        value(after, "vibeapp_polls_total", outcome="polled")
        - value(before, "vibeapp_polls_total", outcome="polled")
        == 1
    )
    stored = "vibeapp_events_stored_total"
    assert (
        value(after, stored, event_type="ONIMBOTV2MESSAGEADD")
        - value(before, stored, event_type="ONIMBOTV2MESSAGEADD")
        == 2
    )
    assert value(after, stored, event_type="other") - value(before, stored, event_type="other") == 1
    assert value(after, "vibeapp_poll_backoffs_total") - value(before, "vibeapp_poll_backoffs_total") == 1
    assert (
        value(after, "vibeapp_platform_rate_limited_total")
        - value(before, "vibeapp_platform_rate_limited_total")
        == 1
    )


def test_a_finished_event_counts_by_type_and_outcome_with_its_timings(fleet):
    _, bot = fleet
    before = scrape()
    now = timezone.now()
    entry = EventLogEntry.objects.create(
        bot=bot,
        vibe_event_id=1,
        event_type="ONIMBOTV2MESSAGEADD",
        payload={},
        occurred_at=now - timedelta(seconds=30),
        received_at=now - timedelta(seconds=2),
    )
    entry.status, entry.handled_at = EventLogEntry.Status.HANDLED, now
    entry.save(update_fields=["status", "handled_at"])
    odd = EventLogEntry.objects.create(
        bot=bot,
        vibe_event_id=2,
        event_type="SOMETHING_NEW_" + "x" * 20,
        payload={},
        received_at=now - timedelta(seconds=1),
    )
    odd.status, odd.handled_at = EventLogEntry.Status.FAILED, now
    odd.save(update_fields=["status", "handled_at"])
    after = scrape()
    finished = "vibeapp_events_finished_total"
    assert (
        value(after, finished, event_type="ONIMBOTV2MESSAGEADD", outcome="handled")
        - value(before, finished, event_type="ONIMBOTV2MESSAGEADD", outcome="handled")
        == 1
    )
    assert (
        value(after, finished, event_type="other", outcome="failed")
        - value(before, finished, event_type="other", outcome="failed")
        == 1
    )
    assert (
        value(after, "vibeapp_event_handler_seconds_count")
        - value(before, "vibeapp_event_handler_seconds_count")
        == 2
    )
    assert (
        value(after, "vibeapp_event_age_seconds_count") - value(before, "vibeapp_event_age_seconds_count")
        == 1
    )


def test_fleet_figures_are_read_at_scrape_time(fleet):
    _, bot = fleet
    EventLogEntry.objects.create(
        bot=bot,
        vibe_event_id=5,
        event_type="ONIMBOTV2MESSAGEADD",
        payload={},
        received_at=timezone.now() - timedelta(minutes=5),
    )
    samples = scrape()
    assert value(samples, "vibeapp_portals", status="active") == 1
    assert value(samples, "vibeapp_portals", status="uninstalled") == 1
    assert (
        value(samples, "vibeapp_bots", status="active") == 1
        and value(samples, "vibeapp_bots", status="broken") == 1
    )
    assert value(samples, "vibeapp_event_backlog") == 1
    assert value(samples, "vibeapp_event_oldest_unhandled_seconds") >= 300
    assert value(samples, "vibeapp_sessions", state="live") == 0


def test_no_series_carries_a_portal_or_bot_label(fleet):
    record_poll_outcome(status="polled")
    for name, series in scrape().items():
        for labels in series:
            assert not {k for k, _ in labels} & {"portal", "member_id", "bot", "domain"}, name


def test_a_token_guards_metrics_when_configured(settings):
    settings.OPS_METRICS_TOKEN = "scrape-secret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(Authorization="Bearer scrape-secret")


def scrape_after_processes(tmp_path, *scripts: str) -> str:
    """What /metrics sums from the multiprocess directory after each script ran in a process of its own."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "vibeapp.settings",
    }
    for script in scripts:
        subprocess.run(
            [sys.executable, "-c", "import django; django.setup(); " + script],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=60,
        )
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    return generate_latest(registry).decode()


@pytest.mark.slow
def test_series_of_other_processes_are_summed_from_the_multiprocess_directory(tmp_path):
    script = "from ops.metrics import record_poll_outcome; record_poll_outcome(status='rate_limited')"
    text = scrape_after_processes(tmp_path, script, script)
    assert 'vibeapp_polls_total{outcome="rate_limited"} 2.0' in text


def test_the_learned_request_rate_is_read_at_scrape_time(settings):
    from botcore.vibe.learned_budget import learned_rates

    settings.VIBE_APP_KEY = "vibe_app_" + "m" * 40
    settings.VIBE_BUDGET_BACKEND = "database"
    settings.VIBE_BUDGET_PER_SECOND = 9
    samples = scrape()
    rates = learned_rates(settings.VIBE_APP_KEY)
    assert value(samples, "vibeapp_budget_learned_rate_per_second", scope="ceiling") == 9
    assert value(samples, "vibeapp_budget_learned_rate_per_second", scope="key") == rates.key
    assert value(samples, "vibeapp_budget_learned_rate_per_second", scope="portal") == rates.per_portal


def test_the_scrape_answers_while_the_database_is_down(fleet, monkeypatch):
    """An outage is when the counters matter most: a part of the fleet figures that cannot be read is left
    out and said so (`vibeapp_scrape_part_up` 0), never a 500 that hides every series (an on-call trial)."""
    from django.db import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    record_poll_outcome(status="backoff")
    monkeypatch.setattr("ops.collectors.count_portals_by_status", refuse)
    samples = scrape()
    assert value(samples, "vibeapp_polls_total", outcome="backoff") >= 1
    assert value(samples, "vibeapp_scrape_part_up", part="fleet") == 0
    assert value(samples, "vibeapp_scrape_part_up", part="learned_rates") == 1
    assert "vibeapp_portals" not in samples


def test_the_scrape_answers_while_redis_is_down(fleet, settings, monkeypatch):
    """The learned rates live in Redis: with Redis down the rest of the scrape still answers (an on-call
    trial met a 500 on every scrape for the two minutes Redis was down)."""
    import redis

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    settings.VIBE_APP_KEY = "vibe_app_" + "m" * 40
    monkeypatch.setattr("ops.collectors.learned_rates", refuse)
    samples = scrape()
    assert value(samples, "vibeapp_bots", status="active") == 1
    assert value(samples, "vibeapp_scrape_part_up", part="learned_rates") == 0
    assert value(samples, "vibeapp_scrape_part_up", part="fleet") == 1


@pytest.mark.slow
def test_every_known_outcome_is_a_series_at_zero_before_it_first_happens(tmp_path):
    """From an integrator's trial: the series of a labelled counter appeared only with its first increment,
    already at 1, and `increase()` reads no rise from a series that was not there: the documented alert on
    replies left in doubt (`increase(vibeapp_writes_in_doubt_total{outcome=~"left|refused"}[1h]) > 0`)
    stayed silent for a process's first such reply, and the failure ratio missed each type's first failure.
    Every process now shows each known label set at 0 from its start."""
    text = scrape_after_processes(tmp_path, "import ops.metrics")
    for series in (
        'vibeapp_writes_in_doubt_total{outcome="left",write="post"} 0.0',
        'vibeapp_writes_in_doubt_total{outcome="refused",write="chat"} 0.0',
        'vibeapp_events_finished_total{event_type="ONIMBOTV2MESSAGEADD",outcome="failed"} 0.0',
        'vibeapp_events_finished_total{event_type="other",outcome="handled"} 0.0',
        'vibeapp_polls_total{outcome="app_key_refused"} 0.0',
        'vibeapp_platform_responses_total{status_class="5xx"} 0.0',
    ):
        assert series in text


def test_the_poll_outcomes_shown_from_the_start_are_the_cycles_own():
    """ops.metrics lists them apart from the cycle (it may not import the engine as it loads): kept equal."""
    from typing import get_args

    from botcore.services.polling import CycleStatus
    from ops.metrics import POLL_OUTCOMES

    assert sorted(POLL_OUTCOMES) == sorted(get_args(CycleStatus))


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/proc/self/ns/pid").exists() or shutil.which("unshare") is None, reason="PID namespaces (Linux)"
)
def test_two_containers_under_one_host_name_whose_processes_share_a_pid_keep_their_counts_apart(tmp_path):
    """Two containers sharing a metrics directory and a host name (compose's `hostname:` on a scaled
    service, pods with hostNetwork), each with its process as PID 1: both were `<host>-1`, one file, and
    of the two counts made at once one was lost. Files are named by the pid space the leases use
    (botcore.host_identity.this_host_tag) and the pid: two files, both counts."""
    trial = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if trial.returncode != 0:
        pytest.skip("no PID namespace of our own (unshare --pid)")
    script = (
        "import os, sys, time, django; django.setup(); from ops import metrics; "
        "assert os.getpid() == 1; open(sys.argv[1] + '.ready', 'w').close(); "
        "deadline = time.monotonic() + 30; "
        'exec(\'while len([n for n in os.listdir(sys.argv[2]) if n.endswith(".ready")]) < 2 '
        "and time.monotonic() < deadline: time.sleep(0.01)'); "
        "metrics.record_poll_outcome(status='rate_limited')"
    )
    metrics_dir, barrier = tmp_path / "metrics", tmp_path / "barrier"
    metrics_dir.mkdir()
    barrier.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DJANGO_SETTINGS_MODULE": "vibeapp.settings",
    }
    command = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", script]
    containers = [
        subprocess.Popen([*command, str(barrier / str(n)), str(barrier)], env=env, cwd=ROOT) for n in (0, 1)
    ]
    assert [container.wait(timeout=60) for container in containers] == [0, 0]
    assert len(list(metrics_dir.glob("counter_*.db"))) == 2
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    assert 'vibeapp_polls_total{outcome="rate_limited"} 2.0' in generate_latest(registry).decode()
