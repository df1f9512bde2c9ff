"""File inputs of an app run: an upload id of the app's workspace, or a URL on a host the admin allowed.

URLs are fetched here (``FLOWYARD_APP_URL_HOSTS``, ``FLOWYARD_APP_URL_MAX_BYTES``): only http(s), only the
listed hosts, no redirects, at most the byte limit, and then stored as an upload of the app's workspace.
"""

from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User
from backend.flowapps.inputs import ExposedInput, input_error
from backend.flowapps.models import App
from backend.uploads.actions import do_upload
from backend.uploads.models import Upload

FETCH_TIMEOUT = 10.0


def allowed_hosts() -> set[str]:
    """Hosts (``name`` or ``name:port``) URL inputs may come from; empty: URLs are refused."""
    return {host.strip().lower() for host in settings.FLOWYARD_APP_URL_HOSTS if host.strip()}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect could leave the allowed hosts: answered as the 3xx it is


def fetch_url(item: ExposedInput, url: str) -> tuple[bytes, str]:
    """The body of ``url`` (at most ``FLOWYARD_APP_URL_MAX_BYTES``) and a file name; raise naming the input."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    hosts = allowed_hosts()
    if parts.scheme not in ("http", "https") or not host:
        raise input_error(item.name, "expected an upload id or an http(s) URL.")
    if host not in hosts and f"{host}:{parts.port}" not in hosts:
        raise input_error(item.name, f"URLs from {host} are not allowed (FLOWYARD_APP_URL_HOSTS).")
    limit = int(settings.FLOWYARD_APP_URL_MAX_BYTES)
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(
            urllib.request.Request(url, headers={"User-Agent": "Flowyard"}), timeout=FETCH_TIMEOUT
        ) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise input_error(item.name, f"the file at the URL is over {limit:,} bytes.", 413)
            body = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise input_error(item.name, f"fetching the URL answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise input_error(item.name, f"the URL could not be fetched ({exc}).") from None
    if len(body) > limit:
        raise input_error(item.name, f"the file at the URL is over {limit:,} bytes.", 413)
    name = os.path.basename(parts.path) or "download"
    return body, name


def file_resolver(app: App, user: User | None) -> Any:
    """A resolver for ``overrides_for``: upload ids and allowed URLs become upload names of the app's workspace."""

    def resolve(item: ExposedInput, value: Any) -> str:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            upload = Upload.objects.filter(workspace=app.workspace, pk=value).first()
            if upload is None:
                raise input_error(item.name, f"no upload {value} in this app's workspace.")
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            body, name = fetch_url(item, value)
            kind = Upload.Kind.IMAGE if item.kind == "image" else None
            try:
                upload, _ = do_upload(user, app.workspace, io.BytesIO(body), name, kind=kind)
            except ApiError as exc:  # not an image, too large, empty: said about this input
                raise input_error(item.name, str(exc.payload["detail"]), exc.status_code) from None
        else:
            raise input_error(item.name, "expected an upload id or an http(s) URL.")
        if item.kind == "image" and not upload.is_image:
            raise input_error(item.name, f"upload {upload.pk} ({upload.name}) is not an image.")
        return upload.name

    return resolve
