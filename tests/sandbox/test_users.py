"""GET /v1/users, the employee list the reference's standup example may take participants from."""

import httpx


def seed(services, scopes):
    platform = services.platform
    portal = platform.create_portal()
    other = platform.create_portal()
    users = [platform.create_user(portal, name=f"User {i}") for i in range(3)]
    platform.create_user(other, name="Elsewhere")
    return platform.issue_personal_key(users[0], scopes=scopes).value, [u.id for u in users]


def test_lists_the_portals_users_with_paging(sandbox):
    key, ids = sandbox.run_in_loop(lambda s: seed(s, {"imbot", "im", "user"}))
    answer = httpx.get(f"{sandbox.base_url}/users", params={"limit": 2}, headers={"X-Api-Key": key}).json()
    assert answer["success"] and [u["id"] for u in answer["data"]] == ids[:2]
    assert answer["meta"] == {"total": 3, "hasMore": True}
    rest = httpx.get(f"{sandbox.base_url}/users", params={"offset": 2}, headers={"X-Api-Key": key}).json()
    assert [u["id"] for u in rest["data"]] == ids[2:] and rest["meta"]["hasMore"] is False


def test_needs_the_user_scope_and_valid_paging(sandbox):
    key, _ = sandbox.run_in_loop(lambda s: seed(s, {"imbot", "im"}))
    denied = httpx.get(f"{sandbox.base_url}/users", headers={"X-Api-Key": key})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "SCOPE_DENIED"
    assert "user" in denied.json()["error"]["hint"]  # the scope it lacks, not "imbot and im"
    key, _ = sandbox.run_in_loop(lambda s: seed(s, {"user"}))
    for limit in ("0", "--5", "-", "5x", "²"):
        bad = httpx.get(f"{sandbox.base_url}/users", params={"limit": limit}, headers={"X-Api-Key": key})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST", limit
