"""File upload and download over real HTTP: Base64 in JSON, a message in the chat, exact bytes back."""

from __future__ import annotations

import base64
import os

import httpx
import pytest

from tests.sandbox.helpers import client_for, error_of, register_bot, seed_personal, user_writes


@pytest.fixture
def bot_id(sandbox, client, tenant):
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "send me the report")
    return bot_id


def upload(client, bot_id, dialog_id, name="report.pdf", content: bytes = b"%PDF-1.7 data", **extra):
    fields = {"name": name, "content": base64.b64encode(content).decode(), **extra}
    return client.post(f"/bots/{bot_id}/files", json={"dialogId": dialog_id, "fields": fields})


def test_upload_answers_the_file_and_posts_it_in_the_chat(sandbox, client, tenant, bot_id):
    content = os.urandom(3000)
    response = upload(client, bot_id, str(tenant.user_id), content=content, message="Here it is")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["file"]["name"] == "report.pdf"
    assert (data["file"]["extension"], data["file"]["size"]) == ("pdf", 3000)
    assert data["dialogId"] == str(tenant.user_id) and data["chatId"] == data["file"]["chatId"]
    message = sandbox.run_in_loop(lambda s: s.platform.messages[data["messageId"]])
    assert (message.author_id, message.text, message.chat_id) == (bot_id, "Here it is", data["chatId"])
    assert message.params["files"] == [data["file"]["id"]]


def test_upload_takes_flat_fields_too(client, tenant, bot_id):
    body = {"dialogId": str(tenant.user_id), "name": "notes.txt", "content": base64.b64encode(b"hi").decode()}
    response = client.post(f"/bots/{bot_id}/files", json=body)
    assert response.status_code == 200
    assert response.json()["data"]["file"]["size"] == 2


def test_download_serves_the_exact_bytes_with_the_file_name(client, tenant, bot_id):
    content = bytes(range(256)) * 64
    uploaded = upload(client, bot_id, str(tenant.user_id), name="Отчёт за май.bin", content=content)
    file_id = uploaded.json()["data"]["file"]["id"]
    response = client.get(f"/bots/{bot_id}/files/{file_id}")
    assert response.status_code == 200
    url = response.json()["data"]["downloadUrl"]
    assert "/v1/" not in url
    download = httpx.get(url)  # the link itself is the credential: no key
    assert download.status_code == 200
    assert download.content == content
    assert "attachment" in download.headers["content-disposition"]
    assert "%D0%9E%D1%82%D1%87%D1%91%D1%82" in download.headers["content-disposition"]


def test_a_group_chat_upload_needs_the_bot_in_the_chat(sandbox, client, tenant, bot_id):
    def group(services):
        platform = services.platform
        return platform.create_group_chat(
            portal_id=tenant.portal_id, owner_id=tenant.user_id, title="Team", member_ids=[]
        ).id

    chat_id = sandbox.run_in_loop(group)
    response = upload(client, bot_id, f"chat{chat_id}")
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    sandbox.run_in_loop(lambda s: s.platform.chats[chat_id].member_ids.append(bot_id))
    response = upload(client, bot_id, f"chat{chat_id}")
    assert response.status_code == 200 and response.json()["data"]["dialogId"] == f"chat{chat_id}"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "empty.txt", "content": ""}, "FILE_EMPTY"),
        ({"name": "missing.txt"}, "FILE_EMPTY"),
        ({"name": "bad.txt", "content": "not base64 at all!"}, "FILE_INVALID_CONTENT"),
        ({"name": "prefixed.png", "content": "data:image/png;base64,aGk="}, "FILE_INVALID_CONTENT"),
        ({"name": "number.txt", "content": 12345}, "FILE_INVALID_CONTENT"),
        ({"name": "README", "content": "aGk="}, "FILE_NAME_INVALID"),
        ({"name": ".env", "content": "aGk="}, "FILE_NAME_INVALID"),
        ({"name": "trailing.", "content": "aGk="}, "FILE_NAME_INVALID"),
        ({"content": "aGk="}, "FILE_NAME_INVALID"),
        ({"name": "dir/x.txt", "content": "aGk="}, "FILE_NAME_INVALID"),
        ({"name": "ok.txt", "content": "aGk=", "message": 5}, "INVALID_REQUEST"),
    ],
)
def test_a_bad_upload_is_400_with_a_clear_code(client, tenant, bot_id, fields, code):
    response = client.post(f"/bots/{bot_id}/files", json={"dialogId": str(tenant.user_id), "fields": fields})
    assert response.status_code == 400
    assert error_of(response) == code


@pytest.mark.parametrize(
    ("dialog_id", "status"), [(None, 400), ("", 400), ("chat999999", 404), ("nobody", 400)]
)
def test_an_upload_needs_a_dialog_the_bot_can_reach(client, bot_id, dialog_id, status):
    response = upload(client, bot_id, dialog_id)
    assert response.status_code == status
    assert response.json()["success"] is False


def test_an_unknown_file_is_file_not_found(client, bot_id):
    response = client.get(f"/bots/{bot_id}/files/999999")
    assert response.status_code == 404 and error_of(response) == "FILE_NOT_FOUND"


def test_a_file_of_another_portal_is_file_not_found(sandbox, client, tenant, bot_id):
    file_id = upload(client, bot_id, str(tenant.user_id)).json()["data"]["file"]["id"]
    stranger = seed_personal(sandbox)
    with client_for(sandbox, stranger) as other:
        other_bot = register_bot(other)
        response = other.get(f"/bots/{other_bot}/files/{file_id}")
    assert response.status_code == 404 and error_of(response) == "FILE_NOT_FOUND"


def test_a_file_in_a_chat_the_bot_is_not_in_is_file_access_error(client, tenant, bot_id):
    file_id = upload(client, bot_id, str(tenant.user_id)).json()["data"]["file"]["id"]
    other_bot = register_bot(client, "other_bot")
    response = client.get(f"/bots/{other_bot}/files/{file_id}")
    assert response.status_code == 403 and error_of(response) == "FILE_ACCESS_ERROR"


def test_an_unknown_download_link_is_a_json_404(sandbox):
    response = httpx.get(f"{sandbox.root_url}/files/download/not-a-token")
    assert response.status_code == 404
    assert error_of(response) == "FILE_NOT_FOUND"
