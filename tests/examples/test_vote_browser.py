"""The poll example as people use it: three members of a group chat press its buttons on the sandbox's chat
page in Debian's chromium, each under their own name; poll cycles run here, as a worker runs them."""

import time

import pytest

from botcore.services.skill_configs import configure_skill

pytestmark = pytest.mark.browser


@pytest.fixture
def skill_paths():
    return ["help", "vibe_vote.skill.VoteSkill", "echo"]


def handle_the_press(world, seconds=10.0):
    """Poll cycles until the press the page sent (its own request, so maybe not there yet) is stored."""
    deadline = time.monotonic() + seconds
    while world.poll().stored == 0:
        assert time.monotonic() < deadline, "the press never reached the bot"
        time.sleep(0.1)


def test_members_vote_on_the_chat_page_and_see_the_live_counts(world, task_queue, browser_page, sandbox):
    from playwright.sync_api import expect

    sp, page = world.sp, browser_page
    configure_skill(sp.portal, skill_name="vote", is_enabled=True, options={"show_voters": True})
    task_queue.run()  # the bot's commands now include /vote and the buttons' vote_pick
    carol = sp.control.post(f"/_sandbox/portals/{sp.sandbox_portal_id}/users", json={"name": "Carol Member"})
    carol = carol.json()["data"]["user"]["id"]
    members = [sp.member_id, carol, world.bot_id]
    team = world.act("chats", userId=sp.admin_id, title="Team", memberIds=members)["chat"]
    world.say("/vote Lunch? | Pizza | Sushi", chat_id=team["id"])
    world.poll()

    def as_member(user_id):
        page.goto(f"{sandbox.root_url}/chat?userId={user_id}")
        page.get_by_test_id("dialog-item").filter(has_text="Team").first.click()
        return page.get_by_test_id("message").filter(has=page.get_by_test_id("keyboard")).last

    presses = [(sp.admin_id, 0), (sp.member_id, 1), (carol, 1), (sp.member_id, 0)]  # Boris moves to Pizza
    for user_id, index in presses:
        poll = as_member(user_id)
        poll.get_by_test_id("keyboard-button").nth(index).click()
        handle_the_press(world)
    poll = as_member(sp.admin_id)
    expect(poll).to_contain_text("Pizza — 2 (Alice Admin, Boris Ivanov)")
    expect(poll).to_contain_text("Sushi — 1 (Carol Member)")
    expect(poll).to_contain_text("Votes: 3")
