"""`make run` on a port another process listens on says so and starts nothing.

From a newcomer's trial: a second `make run` with its own VIBE_VAR_DIR but the first stack's ports started its
four processes, found the *first* stack's sandbox and web answering on those ports, opened the first stack's
demo portal as its admin through the first stack's gateway (a session grant written there), printed
"vibeapp is running." with the first stack's addresses, and only then stopped: "web stopped; shutting the
rest down", the port named only in a child's line above it.
"""

from __future__ import annotations

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from vibeapp.management.commands import runstack


@pytest.fixture
def listening_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("taken", ["web", "sandbox", "gateway"])
def test_a_taken_port_is_named_and_nothing_is_started(taken, listening_port, tmp_path, settings, monkeypatch):
    settings.VAR_DIR = tmp_path
    started, migrated = [], []
    monkeypatch.setattr(
        runstack.subprocess, "Popen", lambda *a, **k: started.append(a) or pytest.fail("spawned")
    )
    monkeypatch.setattr(runstack, "migrate_in_steps", lambda *a, **k: migrated.append(a))
    monkeypatch.setattr(runstack, "call_command", lambda *a, **k: migrated.append(a))  # ensure_schedules
    ports = {"web": free_port(), "sandbox": free_port(), "gateway": free_port(), taken: listening_port}

    with pytest.raises(CommandError) as refused:
        call_command(
            "runstack",
            web_port=ports["web"],
            sandbox_port=ports["sandbox"],
            gateway_port=ports["gateway"],
        )

    message = str(refused.value)
    assert str(listening_port) in message and f"VIBE_{taken.upper()}_PORT" in message, message
    assert [name for name in ports if f"VIBE_{name.upper()}_PORT" in message] == [taken], message
    assert started == [] and migrated == []
    runstack.hold_var_dir(tmp_path)  # and it let go of var/: fixing the port is all the next run needs
