"""Keys and session tokens never show in repr, error messages or logs, while calls fail and retry."""

from __future__ import annotations

import json
import logging
import traceback

import httpx
import pytest

from botcore.vibe import NoBudget, VibeApiError, VibeClient, VibeError, VibeTransportError

SECRET_KEY = "vibe_app_0123456789abcdefSECRETKEY"
SECRET_TOKEN = "vibe_session_TOPSECRETTOKEN_42"


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret[9:] not in text  # not even the part after the prefix


def everything_said_about(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def test_repr_of_a_client_names_the_key_kind_only(world):
    app = world.client("app")
    personal = world.client("personal")
    assert_clean(repr(app), world.app_key, world.session_token)
    assert_clean(repr(app._transport), world.app_key, world.session_token)
    assert_clean(repr(personal), world.personal_key)
    assert repr(app) == f"VibeClient(base_url='{world.base_url}', key=vibe_app_…, with session)"


def test_refusals_from_the_platform_carry_no_credentials(world):
    expired = world.control.post(
        "/sessions", {"appKey": world.app_key, "userId": world.admin_id, "ttlSeconds": 0}
    )
    cases = [
        VibeClient(
            api_key=world.app_key, session_token=expired["token"], base_url=world.base_url, budget=NoBudget()
        ),
        VibeClient(
            api_key=world.app_key,
            session_token="vibe_session_unknown",
            base_url=world.base_url,
            budget=NoBudget(),
        ),
        VibeClient(api_key=world.app_key, base_url=world.base_url, budget=NoBudget()),
        VibeClient(api_key="vibe_api_not_a_real_key_123", base_url=world.base_url, budget=NoBudget()),
    ]
    for client in cases:
        with pytest.raises(VibeApiError) as caught:
            client.list_bots()
        assert_clean(
            everything_said_about(caught.value),
            world.app_key,
            expired["token"],
            "vibe_api_not_a_real_key_123",
        )


def test_a_platform_answer_that_quotes_our_secrets_is_scrubbed():
    def echo_secrets(request: httpx.Request) -> httpx.Response:
        body = {
            "success": False,
            "error": {
                "code": "INVALID_API_KEY",
                "message": (
                    f"key {request.headers['x-api-key']} with {request.headers['authorization']} is bad"
                ),
                "hint": f"check {request.headers['x-api-key']}",
            },
        }
        return httpx.Response(401, json=body)

    http = httpx.Client(transport=httpx.MockTransport(echo_secrets))
    client = VibeClient(
        api_key=SECRET_KEY,
        session_token=SECRET_TOKEN,
        base_url="http://platform.test/v1",
        http=http,
        budget=NoBudget(),
    )
    with pytest.raises(VibeApiError) as caught:
        client.list_bots()
    assert_clean(everything_said_about(caught.value), SECRET_KEY, SECRET_TOKEN)
    assert caught.value.message == "key <redacted> with Bearer <redacted> is bad"
    assert caught.value.hint == "check <redacted>"


def test_a_platform_answer_that_quotes_our_secrets_without_their_prefix_is_scrubbed(caplog):
    """A platform naming the token it refused by its random part alone ("token TOPSECRET… expired", the
    prefix parsed off), or the key so: only the whole credential was taken out, and its part after the
    prefix went into the error's text, the log lines and the event log's error column as it came."""
    token_body, key_body = SECRET_TOKEN.removeprefix("vibe_session_"), SECRET_KEY.removeprefix("vibe_app_")

    def echo_bodies(request: httpx.Request) -> httpx.Response:
        bearer = request.headers["authorization"].removeprefix("Bearer vibe_session_")
        key = request.headers["x-api-key"].removeprefix("vibe_app_")
        body = {
            "success": False,
            "error": {
                "code": "TOKEN_INVALID",
                "message": f"session {bearer} is not valid for app key {key}",
                "hint": f"renew {bearer}",
            },
            "data": {"token": bearer},
        }
        return httpx.Response(401, json=body)

    http = httpx.Client(transport=httpx.MockTransport(echo_bodies))
    client = VibeClient(
        api_key=SECRET_KEY, session_token=SECRET_TOKEN, base_url="http://platform.test/v1", http=http,
        budget=NoBudget(), max_attempts=1,
    )  # fmt: skip
    with caplog.at_level(logging.DEBUG), pytest.raises(VibeApiError) as caught:
        client.list_bots()
    said = everything_said_about(caught.value) + json.dumps(caught.value.data) + caplog.text
    assert token_body not in said and key_body not in said
    assert caught.value.message == "session <redacted> is not valid for app key <redacted>"


def test_transport_failures_carry_no_credentials():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach, headers were {dict(request.headers)}", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    client = VibeClient(
        api_key=SECRET_KEY, session_token=SECRET_TOKEN, base_url="http://platform.test/v1", http=http,
        budget=NoBudget(), max_attempts=2, backoff_base=0.01, retry_max_wait=0.02,
    )  # fmt: skip
    with pytest.raises(VibeTransportError) as caught:
        client.list_bots()
    assert_clean(everything_said_about(caught.value), SECRET_KEY, SECRET_TOKEN)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_logs_stay_clean_while_calls_fail_and_retry(world, caplog):
    client = world.client("app", max_attempts=3, backoff_base=0.01, retry_max_wait=0.05)
    bot = client.register_bot(code="b", name="B")
    world.control.fault(
        method="GET", path="/v1/bots/{bot_id}/events", errorRate=1, errorCode="BITRIX_UNAVAILABLE"
    )
    world.control.fault(method="GET", path="/v1/bots", dropRate=1)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(VibeError):
            client.get_events(bot.id)
        with pytest.raises(VibeError):
            client.list_bots()
        with pytest.raises(VibeError):
            VibeClient(api_key=world.app_key, base_url=world.base_url, budget=NoBudget()).get_bot(bot.id)
    retries = [r for r in caplog.records if r.name == "botcore.vibe.transport"]
    assert len(retries) == 4  # two retries for each of the two failing calls
    logged = "\n".join(record.getMessage() for record in caplog.records)
    logged += "\n".join(caplog.text.splitlines())
    assert_clean(logged, world.app_key, world.session_token)


def test_a_personal_key_never_leaks_either(world, caplog):
    client = world.client("personal", max_attempts=2, backoff_base=0.01, retry_max_wait=0.05)
    world.control.fault(method="GET", path="/v1/bots", errorRate=1, errorCode="INTERNAL_ERROR")
    with caplog.at_level(logging.DEBUG), pytest.raises(VibeApiError) as caught:
        client.list_bots()
    assert_clean(caplog.text + everything_said_about(caught.value) + repr(client), world.personal_key)


@pytest.mark.django_db
def test_a_code_exchange_answer_that_quotes_the_code_is_scrubbed(monkeypatch, settings, caplog):
    """An OAuth code is as secret as a token until spent, and the platform's answer to its exchange may
    quote it: refused for now (a 5xx), the callback asks to be opened again, so the code is still live while
    the refusal is logged."""
    from botcore.vibe import identity
    from tenants.errors import InstallationError

    code = "Zx9-LIVE-authorization-code-0123456789"  # the platform's codes have no prefix we could redact

    def quote_code(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        error = {
            "code": "BITRIX_ERROR",
            "message": f"exchange of {sent['code']} failed",
            "hint": sent["code"],
        }
        return httpx.Response(502, json={"success": False, "error": error})

    http = httpx.Client(transport=httpx.MockTransport(quote_code))
    monkeypatch.setattr(identity, "shared_http_client", lambda: http)
    settings.VIBE_APP_KEY = SECRET_KEY
    settings.VIBE_BASE_URL = "http://platform.test/v1"
    with caplog.at_level(logging.DEBUG), pytest.raises(InstallationError) as caught:
        identity.VibeIdentityBackend().exchange_code(
            code=code, redirect_uri="https://app.test/oauth/callback/"
        )
    assert caught.value.is_transient
    assert_clean(everything_said_about(caught.value) + caplog.text, code, SECRET_KEY)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, html="<html>503 Service Unavailable</html>"),
        httpx.Response(
            404, json={"success": False, "error": {"code": "FILE_NOT_FOUND", "message": "No file"}}
        ),
    ],
    ids=["proxy-page", "error-envelope"],
)
def test_a_failed_download_names_no_token_of_its_url(answer, caplog):
    """A download URL carries its own bearer token in its path (FileDownload hides it from repr); a download
    answered with an error named the call by that path ("GET /files/download/<token> -> 503"), in the error
    and in every retry's WARNING."""
    download_token = "dl_TOKEN_0123456789abcdef"

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "platform.test":
            url = f"http://files.test/files/download/{download_token}"
            return httpx.Response(200, json={"success": True, "data": {"downloadUrl": url, "size": 3}})
        return answer

    http = httpx.Client(transport=httpx.MockTransport(platform))
    client = VibeClient(
        api_key=SECRET_KEY, session_token=SECRET_TOKEN, base_url="http://platform.test/v1", http=http,
        budget=NoBudget(), max_attempts=2, backoff_base=0.01, retry_max_wait=0.02,
    )  # fmt: skip
    with caplog.at_level(logging.DEBUG), pytest.raises(VibeApiError) as caught:
        client.download_file(7, 3)
    said = everything_said_about(caught.value) + "\n".join(r.getMessage() for r in caplog.records)
    assert_clean(said, SECRET_KEY, SECRET_TOKEN)
    assert download_token not in said
    assert caught.value.path == "(download)"


@pytest.mark.parametrize("where", ["body", "error"])
def test_an_error_answers_data_that_quotes_our_secrets_is_scrubbed(where, caplog):
    """The platform's error answer may carry `data` (beside or inside its `error`), and that may echo what
    was sent: the message, hint and code were scrubbed of the key and the token, `data` was kept as it came,
    nested objects, lists and keys alike (before, the key and the token were there on every error)."""

    def echo_secrets(request: httpx.Request) -> httpx.Response:
        key, bearer = request.headers["x-api-key"], request.headers["authorization"]
        data = {
            "botId": 7,
            "sent": {"headers": {"X-Api-Key": key, "Authorization": bearer}, "tried": [key, 1, None, True]},
            f"key:{key}": "as a name",
        }
        error = {"code": "BOT_ALREADY_EXISTS", "message": "exists"}
        body = {"success": False, "error": error, "data": data}
        if where == "error":
            body = {"success": False, "error": {**error, "data": data}}
        return httpx.Response(409, json=body)

    http = httpx.Client(transport=httpx.MockTransport(echo_secrets))
    client = VibeClient(
        api_key=SECRET_KEY, session_token=SECRET_TOKEN, base_url="http://platform.test/v1", http=http,
        budget=NoBudget(),
    )  # fmt: skip
    with pytest.raises(VibeApiError) as caught:
        client.register_bot(code="b", name="B")
    error = caught.value
    logger = logging.getLogger("tests.secrets")
    with caplog.at_level(logging.DEBUG, logger="tests.secrets"):
        logger.error("registering failed: %s (%r), data %s", error, error, error.data, exc_info=error)
    said = everything_said_about(error) + json.dumps(error.data) + caplog.text
    assert_clean(said, SECRET_KEY, SECRET_TOKEN)
    assert error.data["sent"] == {
        "headers": {"X-Api-Key": "<redacted>", "Authorization": "Bearer <redacted>"},
        "tried": ["<redacted>", 1, None, True],
    }
    assert error.data["key:<redacted>"] == "as a name"
    assert error.existing_bot_id == 7  # what the caller reads of `data` is left as it came
