"""ops.redaction: which fields and query parameters hold a credential, and what of a payload is kept."""

from __future__ import annotations

import json
import logging

import pytest

from ops.logs import RedactingJsonFormatter, RedactingTextFormatter
from ops.redaction import REDACTED, is_secret_name, redact, redact_json, redact_payload


@pytest.mark.parametrize(
    "name",
    ["auth", "AUTH_ID", "REFRESH_ID", "access_token", "refreshToken", "application_token", "botToken",
     "password", "client_secret", "api_key", "X-Api-Key", "Authorization", "X-Amz-Signature", "token"],
)  # fmt: skip
def test_credentials_are_known_by_their_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["authorId", "author", "BG_COLOR_TOKEN", "COLOR_TOKEN", "member_id", "domain", "expires_in", "text",
     "tokens_used", "keyboard", "statusMessageCode"],
)  # fmt: skip
def test_what_a_skill_reads_and_a_style_are_not_credentials(name):
    assert not is_secret_name(name)


def test_a_payload_keeps_all_but_its_credentials():
    payload = {
        "message": {
            "authorId": 3,
            "text": "see https://x.example/f?id=4&token=abc123 or state=active",
            "params": {"KEYBOARD": [{"TEXT": "Go", "BG_COLOR_TOKEN": "primary"}]},
        },
        "auth": {"access_token": "a1", "member_id": "m1"},
        "password": "",  # nothing to hide: left as it came
        "refresh_token": None,
    }
    assert redact_json(payload) == {
        "message": {
            "authorId": 3,
            "text": f"see https://x.example/f?id=4&token={REDACTED} or state=active",
            "params": {"KEYBOARD": [{"TEXT": "Go", "BG_COLOR_TOKEN": "primary"}]},
        },
        "auth": REDACTED,
        "password": "",
        "refresh_token": None,
    }
    assert payload["auth"] == {"access_token": "a1", "member_id": "m1"}  # the original is left as it was


def test_a_payload_keeps_the_links_people_share_though_our_own_urls_lose_their_one_time_codes():
    """`code`, `state` and `invite` are one-time credentials only in our own URLs (the OAuth callback, the
    sign-in link), which logs and errors quote; in a message a person wrote they are a link's words (an issue
    tracker's `state=open`, a search's `code=`), and the skill reads what the person wrote."""
    shared = "see https://git.example/issues?state=open&q=1 and https://docs.example/?code=42"
    assert redact_payload({"message": {"text": shared}}) == {"message": {"text": shared}}
    assert redact_payload({"url": "https://files.example/f?access_token=a1"}) == {
        "url": f"https://files.example/f?access_token={REDACTED}"
    }
    assert redact("GET /oauth/callback/?code=c0de&state=s7a7e") == (
        f"GET /oauth/callback/?code={REDACTED}&state={REDACTED}"
    )


def test_text_quoting_a_payload_loses_its_credentials():
    quoted = (
        'cannot handle {\'auth\': {\'access_token\': \'a1b2c3\', "member_id": "m1"}, "password": "p\\"w"}'
    )
    assert redact(quoted) == (
        f"cannot handle {{'auth': {{'access_token': '{REDACTED}', \"member_id\": \"m1\"}}, "
        f'"password": "{REDACTED}"}}'
    )
    assert (
        redact("GET /x?auth=s3cr3t&fileId=4 and ?code=abc")
        == f"GET /x?auth={REDACTED}&fileId=4 and ?code={REDACTED}"
    )


@pytest.mark.parametrize("formatter", [RedactingJsonFormatter(), RedactingTextFormatter()])
def test_a_log_line_quoting_a_payload_loses_its_credentials_in_either_format(formatter):
    """JSON writes a message's double quotes escaped (\\"password\\": …): each field is redacted before."""
    payload = json.dumps({"auth": {"access_token": "a1b2c3d4"}, "password": "hunter22"})
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "handling %s", (payload,), None)
    line = formatter.format(record)
    assert "handling" in line and "a1b2c3d4" not in line and "hunter22" not in line


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        # A URL's fragment carries an implicit grant's token, and ";" parts of a path their parameters
        ("https://app.example/cb#access_token=t0k3nv4lue&expires_in=3600",
         f"https://app.example/cb#access_token={REDACTED}&expires_in=3600"),
        ("https://files.example/f;token=t0k3nv4lue", f"https://files.example/f;token={REDACTED}"),
        # A platform key right after a letter, a digit or "_": percent-encoded text, a name glued to it
        ("text=my%20key%20vibe_api_Ab3.d-9~x", f"text=my%20key%20vibe_api_{REDACTED}"),
        ("%22vibe_app_Ab3d9x%22", f"%22vibe_app_{REDACTED}%22"),
        ("key_vibe_session_Ab3d9x", f"key_vibe_session_{REDACTED}"),
    ],
)  # fmt: skip
def test_a_credential_in_a_fragment_or_glued_to_a_word_is_redacted(text, redacted):
    assert redact(text) == redacted
    assert redact_payload({"message": {"text": text}}) == {"message": {"text": redacted}}


@pytest.mark.parametrize(
    "said",
    ["Bearer something", "the bearer instructions are attached", "Bearer Something.", "BEARER BONDS-FUND",
     "bearer hello", "Bearer well-known"],
)  # fmt: skip
def test_a_persons_words_after_bearer_are_kept_in_a_payload(said):
    """From a user's trial: "Bearer something" typed in a chat reached the event log, the admin and the skill
    as "Bearer <redacted>". In what a person wrote, a word after "Bearer" is a credential only where it is
    shaped as one."""
    assert redact_payload({"message": {"text": said}}) == {"message": {"text": said}}


@pytest.mark.parametrize(
    "token",
    [
        "vibe_session_" + "b2" * 20,  # ours: its prefix alone says so
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",  # a JWT
        "3f9a1c0e7b2d4a68",  # an OAuth token: bare hex
        "AbCdEfGhIjKlMnOp",  # letters alone, in no word's case
        "abcdefghijklmnopqrstuvwxyz",  # letters alone, longer than a word
        "dG9rZW4tdmFsdWU=",  # base64
        "tok_live.abc",  # a word with a credential's marks
    ],
)
def test_a_credential_after_bearer_is_still_redacted_in_a_payload_and_anything_after_it_in_our_text(token):
    said = f"try Authorization: Bearer {token} please"
    assert redact_payload({"message": {"text": said}}) == {
        "message": {"text": f"try Authorization: Bearer {REDACTED} please"}
    }
    # Our own text (a log line, an error) quotes a header we sent: whatever follows "Bearer" is its value.
    assert redact(said) == f"try Authorization: Bearer {REDACTED} please"
    assert redact("sent Authorization: Bearer something") == f"sent Authorization: Bearer {REDACTED}"
