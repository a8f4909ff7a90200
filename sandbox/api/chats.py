"""Reference section: chats."""
from __future__ import annotations

routes: list = []
