"""BB-code builders for message text, and escape() that keeps user text from being read as markup.

    from botcore.vibe import bbcode as bb
    text = bb.bold("Hi ") + user_name + " " + bb.send_link("/help", "Help")

Bitrix24 renders BB codes only, never Markdown (CONTRACT part B §7.3.3). A builder returns `BB`, a str
that is already markup; any *plain* str handed to a builder, or added to a BB with `+`, is escaped first,
so `bb.bold(name)` is safe even when a user named themselves "[user=all]". Mark trusted markup with
`bb.raw()`. Note that an f-string or str.format() turns BB back into a plain str: build with `+` and
`bb.join()`, or call `bb.escape()` on the user's parts yourself.

How escaping works, and why. Bitrix24 documents no escape for BB codes: `[code]` changes how the text
looks, an undocumented `[[]` trick would show a doubled bracket wherever it is not interpreted, and
HTML entities are shown literally by the messenger. So escape() inserts U+200B ZERO WIDTH SPACE right
after every "[" ("[b]" becomes "[\u200bb]"), which no tag pattern matches and no reader sees. It also
breaks the other line-level markup a user might type: ">>" quotes and "------" full quotes at a line
start, and the "#BR#" line break, also where the text ends in the start of one (so that escaped parts put
together hold no markup either). The cost: copied text carries the invisible character, and each
bracket counts one more character towards the 20 000 limit. escape() is idempotent, and unescape()
reverses it (for text that held no zero-width spaces of its own in those places).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, SupportsIndex

ZWSP = "\u200b"
# The platform's limit on a message's text, in characters: it cuts longer text and appends " (...)", which
# can cut a closing tag off (CONTRACT part A §10). Fit a user's words into a reply with shorten().
MAX_TEXT_CHARS = 20_000
# A name someone else chose (a person's, a chat's) as a message shows it, at most (plain_name).
NAME_CHARS = 80
_OPEN_BRACKET = re.compile(r"\[(?!\u200b)")
# Line-level markup may follow a line's indent, never its line break: "\s*" crossed line ends, so each line of
# a message of blank lines scanned every line after it (100,000 newlines held a worker 200 s).
# Each is broken also where the text ends in its start (\Z): a part escaped on its own ends so, and the next
# part completed it (bb.join(["#b", "r#"]) was a line break, ">" then ">x" a quote).
_LINE_QUOTE = re.compile(r"^([^\S\n]*)>(?=>|\Z)", re.MULTILINE)
_DASH_QUOTE = re.compile(r"^([^\S\n]*)-(?=-{5}|-{0,4}\Z)", re.MULTILINE)
_HASH_BR = re.compile(r"#(?=br#|(?:br?)?\Z)", re.IGNORECASE)
_INSERTED = re.compile(r"(?<=[\[>\-#])\u200b")
# A mention's name runs to the next tag: with any text allowed (.*?), each unclosed [USER=…] of a message
# scanned to its end, so 20,000 characters of them held a worker ~1 s, 100,000 ~13 s (quadratic).
_MENTION = re.compile(r"\[user=([^\]\[]*)\]([^\[]*)\[/user\]([\s,:;]*)", re.IGNORECASE)
# What one_line() takes out of a name: line and paragraph breaks and the other C0/C1 controls (a run of them
# one space), and the bidi embeddings, overrides and isolates (dropped), which turn the text after them around
# up to the line's end, the app's own words included. The marks (U+200E, U+200F) a right-to-left name may
# need stay: they reorder no letters.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")

ImageSize = Literal["small", "medium", "large"]


class BB(str):
    """Text that is already BB markup: builders and `+` leave it as it is and escape plain str."""

    __slots__ = ()

    def __add__(self, other: str) -> BB:
        return BB(str.__add__(self, _markup(other)))

    def __radd__(self, other: str) -> BB:
        return BB(str.__add__(_markup(other), self))

    def __mul__(self, count: SupportsIndex) -> BB:
        return BB(str.__mul__(self, count))

    def __repr__(self) -> str:
        return f"BB({str.__repr__(self)})"


def escape(text: str) -> str:
    """Neutralise BB markup in `text` (a user's words) so it shows exactly as typed; BB passes through."""
    if isinstance(text, BB):
        return text
    text = _OPEN_BRACKET.sub("[" + ZWSP, text)
    text = _LINE_QUOTE.sub(lambda m: m.group(1) + ">" + ZWSP, text)
    text = _DASH_QUOTE.sub(lambda m: m.group(1) + "-" + ZWSP, text)
    return _HASH_BR.sub("#" + ZWSP, text)


def unescape(text: str) -> str:
    """Undo escape(): remove the zero-width spaces it inserts (after "[", ">", "-" and "#")."""
    return _INSERTED.sub("", text)


def shorten(text: str, limit: int) -> str:
    """A user's plain `text`, cut so that it takes at most `limit` characters once escaped, ending in "…"
    when cut. The cut is measured on the escaped text: escape() adds a character per bracket."""
    if len(escape(text)) <= limit:
        return text
    keep = max(0, limit - 1)  # one for the "…"
    # The longest prefix that fits: a character more adds one or two once escaped, so the escaped length
    # grows with the prefix and a bisection finds it.
    fits, too_long = 0, min(len(text), keep) + 1
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        fits, too_long = (middle, too_long) if len(escape(text[:middle])) <= keep else (fits, middle)
    return text[:fits] + "…"


def one_line(text: str) -> str:
    """A name someone else chose (a chat's title, a person's name), as one line of plain text to put among the
    app's own words: its line breaks and controls a space, its bidi controls dropped. escape() keeps its
    markup from being read; this keeps it from starting a line of its own that reads as the app's ("The
    app's key expired: …") or turning the app's words after it around. Escape it still (a builder does)."""
    return _BREAKS.sub(" ", _BIDI.sub("", text)).strip()


def plain_name(text: str, limit: int = NAME_CHARS) -> str:
    """A name someone else chose, as one line (one_line) of at most `limit` characters once escaped (shorten):
    a person's name beside the app's words, a chat's in a list of them."""
    return shorten(one_line(text), limit)


def _markup(value: str) -> str:
    return value if isinstance(value, BB) else escape(str(value))


def raw(text: str) -> BB:
    """Trust `text` as markup as it is (your own template, never a user's words)."""
    return BB(text)


def join(parts: Iterable[str], separator: str = "") -> BB:
    """Join parts into markup, escaping every plain str (the separator included)."""
    return BB(_markup(separator).join(_markup(part) for part in parts))


def pack(lines: Iterable[str], separator: str = "\n", *, limit: int = MAX_TEXT_CHARS) -> list[BB]:
    """Lines joined into as few messages as hold them, each at most `limit` characters of markup, a line
    never split (one longer than `limit` is a message of its own: shorten it first)."""
    messages: list[BB] = []
    current: list[BB] = []
    size = 0
    gap = len(_markup(separator))
    for line in (BB(_markup(line)) for line in lines):
        if current and size + gap + len(line) > limit:
            messages.append(join(current, separator))
            current, size = [], 0
        size += (gap if current else 0) + len(line)
        current.append(line)
    if current:
        messages.append(join(current, separator))
    return messages


def _wrap(tag: str, content: str, value: str | None = None) -> BB:
    opening = f"[{tag}={value}]" if value is not None else f"[{tag}]"
    return BB(f"{opening}{_markup(content)}[/{tag}]")


def fits_attribute(value: object) -> bool:
    """Whether `value` can be a tag's attribute (a link's target, a chat's id): one that would close the tag
    early or open another cannot. A value someone else gave (the platform's dialog id) is checked here first
    and shown as plain text when it does not fit; the builders raise for it."""
    return not any(char in str(value) for char in "[]\n")


def _attribute(value: object) -> str:
    """A tag attribute may not close the tag early or open another one."""
    text = str(value)
    if not fits_attribute(text):
        raise ValueError(f"a BB-code attribute cannot contain brackets or line breaks: {text!r}")
    return text


def bold(text: str) -> BB:
    return _wrap("b", text)


def italic(text: str) -> BB:
    return _wrap("i", text)


def underline(text: str) -> BB:
    return _wrap("u", text)


def strike(text: str) -> BB:
    return _wrap("s", text)


def size(text: str, px: int) -> BB:
    """Font size, 8 to 30 px."""
    if not 8 <= px <= 30:
        raise ValueError("BB-code size must be 8..30")
    return _wrap("size", text, str(px))


def color(text: str, hex_color: str) -> BB:
    """Text color as #rgb or #rrggbb."""
    if not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", hex_color):
        raise ValueError(f"BB-code color must be #rgb or #rrggbb, got {hex_color!r}")
    return _wrap("color", text, hex_color)


def url(href: str, text: str | None = None) -> BB:
    """A link; with no text the URL itself is shown."""
    if text is None:
        return BB(f"[url]{_attribute(href)}[/url]")
    return _wrap("url", text, _attribute(href))


def mention(user_id: int | str, name: str) -> BB:
    """Mention a user (a bot of type `bot` hears group messages only when mentioned)."""
    return _wrap("user", name, _attribute(user_id))


def unmention(text: str, *, addressee: int | str | None = None) -> str:
    """A user's plain `text` with each mention as the name it shows ("[USER=7]Anna[/USER]" → "Anna"), and the
    mentions of `addressee` (the bot a group message has to mention to reach it) left out with the comma or
    colon after them, unless nothing else is left. Repeated to people, a mention would ping them again."""

    def name(match: re.Match[str], *, drop: str | None) -> str:
        return "" if match[1].strip().lower() == drop else match[2] + match[3]

    drop = None if addressee is None else str(addressee).lower()
    return _MENTION.sub(lambda m: name(m, drop=drop), text).strip() or _MENTION.sub(
        lambda m: name(m, drop=None), text
    )


def mention_all(label: str = "all") -> BB:
    return _wrap("user", label, "all")


def chat_link(chat_id: int | str, name: str) -> BB:
    return _wrap("chat", name, _attribute(chat_id))


def context_link(dialog_id: str, message_id: int, text: str) -> BB:
    """A link to a message in a dialog."""
    return _wrap("context", text, f"{_attribute(dialog_id)}/{int(message_id)}")


def send_link(command: str, label: str) -> BB:
    """A link that sends `command` as the user's message when clicked (e.g. "/help")."""
    return _wrap("send", label, _attribute(command))


def put_link(text_to_insert: str, label: str) -> BB:
    """A link that puts text into the user's input field."""
    return _wrap("put", label, _attribute(text_to_insert))


def call_link(number: str, label: str | None = None) -> BB:
    if label is None:
        return BB(f"[call]{_attribute(number)}[/call]")
    return _wrap("call", label, _attribute(number))


def code(text: str) -> BB:
    return _wrap("code", text)


def image(src: str, size: ImageSize = "medium") -> BB:
    """An inline image; the size is mandatory and a space must precede the closing tag."""
    return BB(f"[img size={size}]{_attribute(src)} [/img]")


def quote(text: str) -> BB:
    """Quote every line with ">>"."""
    trusted = isinstance(text, BB)
    lines = str(text).split("\n")
    return BB("\n".join(">>" + (line if trusted else escape(line)) for line in lines))


def line_break() -> BB:
    return BB("[br]")
