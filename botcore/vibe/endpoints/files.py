"""Reference section "Files": upload a file into a dialog as the bot, and get (or fetch) a file."""

from __future__ import annotations

import base64
from collections.abc import Callable

from botcore.vibe.endpoints.base import SAFE, UNSAFE, Endpoints, as_data, bot_path, dialog, made_data
from botcore.vibe.errors import VibeFileTooLargeError
from botcore.vibe.models import FileDownload, UploadedFile

# The platform caps a request body at 40 MiB; Base64 inflates by 4/3, so about 30 MiB of file fits.
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
# The most of a file download_file reads by default: the platform's own file limit (File.upload takes up to
# 100 MB, CONTRACT B). A file someone attached in Bitrix24 itself may be larger, and the worker holds all of
# what it reads in memory.
MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024


def check_upload_content(content: bytes) -> None:
    """Refuse, before anything is sent, a file the platform cannot take: empty, or past MAX_UPLOAD_BYTES
    (ValueError, a skill's bug: check the size before making what the file goes with). The test kit's
    upload_file asks the same, so a skill's test meets it as the live run does."""
    if not content:
        raise ValueError("upload_file needs content")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(f"the platform takes files up to {MAX_UPLOAD_BYTES} bytes; got {len(content)}")


class FileEndpoints(Endpoints):
    def upload_file(
        self,
        bot_id: int,
        *,
        dialog_id: str | int,
        name: str,
        content: bytes,
        message: str | None = None,
        on_sending: Callable[[], None] | None = None,
    ) -> UploadedFile:
        """POST /v1/bots/:botId/files: post `content` as a file named `name` (with its extension).

        Sent as Base64 in JSON. Raises ValueError above MAX_UPLOAD_BYTES, before anything is sent. Never
        retried once it may have been sent (UNSAFE): a second attempt would post the file twice; the platform
        takes no key to tell a repeat. `on_sending`: Transport.request's, called as each attempt's request is
        about to leave (where the skills' context writes the upload's doubt ahead).
        """
        check_upload_content(content)
        fields = {"name": name, "content": base64.b64encode(content).decode("ascii")}
        if message is not None:
            fields["message"] = message
        body = {"dialogId": dialog(dialog_id), "fields": fields}
        path = bot_path(bot_id, "files")
        data = self._transport.request("POST", path, body=body, retry=UNSAFE, on_sending=on_sending)
        return UploadedFile.from_payload(made_data(data, path=path, what="an upload"))

    def get_file_download_url(self, bot_id: int, file_id: int) -> FileDownload:
        """GET /v1/bots/:botId/files/:fileId: a download URL for a file in a chat the bot is in."""
        return FileDownload.from_payload(
            as_data(self._transport.request("GET", bot_path(bot_id, "files", file_id), retry=SAFE))
        )

    def download_file(self, bot_id: int, file_id: int, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """The file's bytes: get_file_download_url(), then fetch the URL without our credentials.

        Raises VibeFileTooLargeError for a file larger than `max_bytes`, before fetching it where the
        platform tells its size, else as soon as more than that has come.
        """
        download = self.get_file_download_url(bot_id, file_id)
        if not download.download_url:
            raise ValueError(f"the platform gave no download URL for file {file_id}")
        if download.size > max_bytes:
            raise VibeFileTooLargeError(file_id=file_id, limit=max_bytes, size=download.size)
        return self._transport.fetch_bytes(
            download.download_url,
            max_bytes=max_bytes,
            too_large=lambda: VibeFileTooLargeError(file_id=file_id, limit=max_bytes),
        )
