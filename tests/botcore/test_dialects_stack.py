"""The real worker processes on every dialect: a real qcluster and poller poll, echo and answer a command.

test_dialects_live.py walks a whole portal day per dialect in this process; here the processes the
product runs meet each reading once, with the request budget configured as in production (9/s) and, for
the rate dialects, a platform that allows 3/s.
"""

from __future__ import annotations

import pytest

from botcore.services.bots import provision_bot
from tests.botcore.livestack import LiveStack, wait_for
from tests.botcore.test_dialects_live import EVERY_DIALECT, RATE_DIALECTS

pytestmark = [pytest.mark.slow]


@pytest.fixture
def stack(sandbox_portal, sandbox):
    stack = LiveStack(
        base_url=sandbox.base_url, app_key=sandbox_portal.app_key, extra_env={"VIBE_BUDGET_PER_SECOND": "9"}
    )
    yield stack
    for name in list(stack.processes):
        stack.kill(name)  # what they did is checked already; a graceful qcluster stop takes 15 s


@pytest.mark.parametrize("dialect", EVERY_DIALECT)
def test_real_workers_echo_and_answer_a_command_on_every_dialect(dialect, sandbox_portal, stack):
    control = sandbox_portal.control
    if dialect:
        assert control.post("/_sandbox/dialects", json={"dialects": [dialect]}).status_code == 200
    if dialect in RATE_DIALECTS:
        assert control.post("/_sandbox/rate-limit", json={"perSecond": 3}).status_code == 200
    bot = provision_bot(sandbox_portal.portal)
    stack.start("qcluster")
    stack.start("poller")
    texts = [f"note {i}" for i in range(5)]
    for text in texts:
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    admin = sandbox_portal.admin_id
    ping = sandbox_portal.say(user_id=admin, bot_id=bot.vibe_bot_id, text="/ping")["message"]

    def answered() -> bool:
        sent = sandbox_portal.bot_messages(bot.vibe_bot_id)
        return all(any(f"[i]{t}[/i]" in m["text"] for m in sent) for t in texts) and any(
            m["answerTo"] == ping["id"] for m in sent
        )

    wait_for(answered, timeout=60, what="every echo and the answer to /ping")
    sent = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert all(sum(f"[i]{t}[/i]" in s for s in sent) == 1 for t in texts), sent
