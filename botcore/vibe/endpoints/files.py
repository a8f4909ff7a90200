"""Reference section "Files": upload a file into a dialog as the bot, and get (or fetch) a file."""

from __future__ import annotations

import base64

from botcore.vibe.endpoints.base import SAFE, UNSAFE, Endpoints, as_data, bot_path, dialog
from botcore.vibe.models import FileDownload, UploadedFile

# The platform caps a request body at 40 MiB; Base64 inflates by 4/3, so about 30 MiB of file fits.
MAX_UPLOAD_BYTES = 30 * 1024 * 1024


class FileEndpoints(Endpoints):
    def upload_file(
        self, bot_id: int, *, dialog_id: str | int, name: str, content: bytes, message: str | None = None
    ) -> UploadedFile:
        """POST /v1/bots/:botId/files: post `content` as a file named `name` (with its extension).

        Sent as Base64 in JSON. Raises ValueError above MAX_UPLOAD_BYTES, before anything is sent. Never
        retried once it may have been sent (UNSAFE): a second attempt would post the file twice.
        """
        if not content:
            raise ValueError("upload_file needs content")
        if len(content) > MAX_UPLOAD_BYTES:
            raise ValueError(f"the platform takes files up to {MAX_UPLOAD_BYTES} bytes; got {len(content)}")
        fields = {"name": name, "content": base64.b64encode(content).decode("ascii")}
        if message is not None:
            fields["message"] = message
        body = {"dialogId": dialog(dialog_id), "fields": fields}
        data = self._transport.request("POST", bot_path(bot_id, "files"), body=body, retry=UNSAFE)
        return UploadedFile.from_payload(as_data(data))

    def get_file_download_url(self, bot_id: int, file_id: int) -> FileDownload:
        """GET /v1/bots/:botId/files/:fileId: a download URL for a file in a chat the bot is in."""
        return FileDownload.from_payload(
            as_data(self._transport.request("GET", bot_path(bot_id, "files", file_id), retry=SAFE))
        )

    def download_file(self, bot_id: int, file_id: int) -> bytes:
        """The file's bytes: get_file_download_url(), then fetch the URL without our credentials."""
        download = self.get_file_download_url(bot_id, file_id)
        if not download.download_url:
            raise ValueError(f"the platform gave no download URL for file {file_id}")
        return self._transport.fetch_bytes(download.download_url)
