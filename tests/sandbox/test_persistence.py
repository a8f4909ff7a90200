"""The saved platform file (`runsandbox --state-file`) read back in-process: formats from earlier layouts."""

from __future__ import annotations

import pickle
import warnings

from sandbox.persistence import FORMAT_VERSION, load_platform, save_platform
from sandbox.records import Command, TypingStatus
from sandbox.state import Platform


def test_a_file_saved_before_the_records_left_sandbox_state_still_loads(tmp_path):
    platform = Platform()
    portal = platform.create_portal(domain="kept.bitrix24.com")
    user = platform.create_user(portal, name="Ann Lee")
    _, key = platform.create_app(name="Kept app")
    bot = platform.add_bot(owner_key=key.value, portal_id=portal.id, code="kept", name="Kept")
    bot.commands[1] = Command(id=1, bot_id=bot.id, command="help", title={"en": "Help"}, params={})
    chat = platform.private_chat(user=user, bot=bot)
    chat.typing[bot.id] = TypingStatus(status_message_code=None, until=platform.now())
    # Protocol 2 names each class as "module\nname\n", so the earlier layout can be written exactly.
    saved = pickle.dumps((FORMAT_VERSION, platform), protocol=2)
    assert saved.count(b"csandbox.records\n") >= 5
    path = tmp_path / "sandbox-state.pickle"
    path.write_bytes(saved.replace(b"csandbox.records\n", b"csandbox.state\n"))

    loaded = load_platform(path)

    assert loaded is not None
    assert loaded.portals[portal.id].domain == "kept.bitrix24.com"
    assert loaded.bots[bot.id].commands[1].command == "help"
    assert loaded.chats[chat.id].typing[bot.id].status_message_code is None


def test_a_saved_platform_holds_only_what_any_python_can_load_and_keeps_counting(tmp_path):
    """itertools.count objects stop pickling in Python 3.14: the id counters are plain ones."""
    platform = Platform()
    portal = platform.create_portal(domain="count.bitrix24.com")
    first = platform.create_user(portal, name="First")
    path = tmp_path / "sandbox-state.pickle"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # 3.12 and 3.13 warn when pickling one
        save_platform(platform, path)
    assert b"itertools" not in path.read_bytes()

    loaded = load_platform(path)

    assert loaded is not None
    assert loaded.create_user(loaded.portals[portal.id], name="Second").id > first.id
