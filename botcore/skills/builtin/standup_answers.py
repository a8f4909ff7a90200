"""The standup's answers as a participant's dialog state keeps them: a record per answer, {message_id, text},
read back from the shape the release before kept them in as well.

The release before kept two parallel lists, `answers` (the texts) and `answer_ids` (their messages, whose
edits and deletions they follow; fewer than the texts for answers kept before ids were: those came first).
One item lost or trimmed from either shifted every answer after it onto another's message: an edit changed
the wrong answer, and a deletion failed the event. This release keeps `answer_messages`, and writes the two
lists beside it, made from the records, for the release before, which reads only them while an upgrade runs
or after a rollback (docs/operators.md, Upgrade); the release after stops writing them.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any, TypedDict

from botcore.vibe import bbcode as bb


class Answer(TypedDict):
    message_id: int  # 0: an answer kept before its message was (the release before's oldest states)
    text: str


# The most of one person's answers the summary shows (report: each person's answers, shortened to fit one
# message). Every answer was kept, and each one rewrote them all: a participant's thousands of long messages
# grew the dialog's state without end (20 MB at 1,000 of 20,000 characters), and a worker's time and the
# database's writes with it. None is kept past what the summary could show.
ANSWER_ROOM = bb.MAX_TEXT_CHARS


def read_answers(state: MutableMapping[str, Any]) -> list[Answer]:
    """A participant's answers, oldest first, as records (copies: change them, then keep_answers)."""
    records = state.get("answer_messages")
    texts = list(state.get("answers") or [])
    ids = list(state.get("answer_ids") or [])
    if isinstance(records, list) and ("answers" not in state or _as_lists(records) == (texts, ids)):
        return [Answer(message_id=int(r["message_id"]), text=str(r["text"])) for r in records]
    # The release before's shape, or its write after ours (an upgrade under way, a rollback): its lists are
    # the newest word. They line up at their ends: ids missing are the oldest answers', and an id more than
    # the texts is one whose text was lost.
    ids = [0] * (len(texts) - len(ids)) + ids
    ids = ids[len(ids) - len(texts) :]
    return [Answer(message_id=int(i), text=str(t)) for i, t in zip(ids, texts, strict=True)]


def keep_answers(state: MutableMapping[str, Any], answers: Sequence[Answer]) -> None:
    """Store `answers` as the participant's, with the release before's two lists made from them."""
    state["answer_messages"] = [dict(answer) for answer in answers]
    state["answers"], state["answer_ids"] = _as_lists(answers)


def _as_lists(answers: Sequence[Any]) -> tuple[list[str], list[int]]:
    return [a["text"] for a in answers], [a["message_id"] for a in answers]


def find_answer(answers: Sequence[Answer], message_id: int) -> int | None:
    """Where the answer written as `message_id` is among `answers`; None when it is none of them."""
    return next((n for n, answer in enumerate(answers) if answer["message_id"] == message_id), None)


def fit_answer(answers: Sequence[Answer], text: str) -> str:
    """`text` as far as it fits after `answers` in ANSWER_ROOM (joined by line breaks); "" when none does."""
    used = len("\n".join(answer["text"] for answer in answers)) + (1 if answers else 0)
    return text[: max(0, ANSWER_ROOM - used)]
