"""A visit's identity check (GET /v1/me) spends the app key's request budget, as every other call on the key
does. From a mass install: 200 portals opening the app at once, each visit's check skipped the budget, the
platform refused a third of them (429), and the 429s its other calls then met cut the rate every portal's
bots were paced at (provisioning and replies minutes late)."""

from __future__ import annotations

from botcore.vibe.identity import VibeIdentityBackend


def test_identity_checks_are_paced_by_the_app_keys_budget_and_meet_no_429(platform, settings):
    settings.VIBE_BUDGET_PER_SECOND = 2.0  # the ceiling the budget paces the key at
    assert platform.control.post(
        "/_sandbox/rate-limit", json={"key": platform.app_key, "perSecond": 2}
    ).is_success
    backend = VibeIdentityBackend()
    token = platform.session(platform.admin)
    for _ in range(6):
        assert backend.verify_session(token).member_id == platform.member_id
    by_status = platform.control.get("/_sandbox/stats").json()["data"]["byStatus"]
    assert by_status == {"200": 6}
