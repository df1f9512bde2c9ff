"""Every write to uploads; each runs in one transaction. Bytes go to the blob store first (outside it).

Blobs are never deleted here: replacing or deleting an upload only drops its reference, and the blob collector
removes the bytes once no app (uploads elsewhere, run outputs, the cache) refers to them any more.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from django.db import transaction
from django.utils import timezone

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User, Workspace
from backend.storage.blobs import get_blob_store
from backend.uploads.handlers import max_upload_bytes, upload_too_large
from backend.uploads.models import Thumbnail, Upload
from backend.uploads.names import clash_filter, sanitize_name, unique_name
from backend.uploads.sniffing import IMAGE_EXTENSIONS, ImageTooLarge, NotAnImage, NotMedia, Sniffed, sniff
from backend.uploads.thumbnails import render_thumbnail


def _file_error(message: str, status_code: int = 400) -> ApiError:
    return ApiError(message, [{"field": "file", "message": message}], status_code=status_code)


def inspect_upload(
    fileobj: BinaryIO, name: str, *, kind: str | None = None, client_content_type: str = ""
) -> Sniffed:
    """Decide what the file is from its bytes; raise a 400 ``ApiError`` naming ``file`` when it claims to be
    an image (``kind``, the name's extension or the client's content type) and is not one we can read, or was
    uploaded as ``video`` or ``audio`` and is not that."""
    claims_image = (
        kind == Upload.Kind.IMAGE
        or client_content_type.lower().startswith("image/")
        or os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
    )
    try:
        return sniff(fileobj, claims_image=claims_image, kind=kind)
    except NotAnImage as exc:
        hint = "" if kind == Upload.Kind.IMAGE else " Upload it with kind=file to keep it as a plain file."
        raise _file_error(f"{name!r} looks like an image but {exc}.{hint}") from None
    except ImageTooLarge as exc:
        raise _file_error(f"{name!r} is refused: {exc}.") from None
    except NotMedia as exc:
        raise _file_error(f"{name!r} was uploaded as {kind} but {exc}.") from None


def do_upload(
    user: User | None,
    workspace: Workspace,
    fileobj: BinaryIO,
    name: str,
    *,
    kind: str | None = None,
    client_content_type: str = "",
    overwrite: bool = False,
) -> tuple[Upload, bool]:
    """Store ``fileobj`` as an upload named (after sanitising) ``name``; returns (upload, changed).

    - the name already holds this content, or (without ``overwrite``) another upload of the workspace does:
      that upload is returned unchanged (``changed`` False);
    - the name holds other content: with ``overwrite`` the name now points at the new content, else the upload
      gets the first free name of ``name (1).ext``, ``name (2).ext``... (as ComfyUI does).
    """
    sniffed = inspect_upload(fileobj, name, kind=kind, client_content_type=client_content_type)
    name = sanitize_name(name, sniffed.extension)
    fileobj.seek(0)
    sha, size = get_blob_store().put_stream(fileobj)
    # Checked again after the bytes are in: callers other than the API view have no upload handler.
    if size > max_upload_bytes():
        raise upload_too_large(size)
    if size == 0:
        raise _file_error("The file is empty.")
    fields = {
        "sha256": sha,
        "size": size,
        "kind": sniffed.kind,
        "content_type": sniffed.content_type,
        "width": sniffed.width,
        "height": sniffed.height,
    }
    # Not durable: a built-in template's sample files are uploaded inside do_create_from_builtin's transaction.
    with transaction.atomic():
        # One upload at a time per workspace: choosing a free name and taking it must not interleave.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        uploads = Upload.objects.filter(workspace=workspace)
        existing = uploads.filter(name=name).first()
        if existing is not None and existing.sha256 == sha and existing.kind == sniffed.kind:
            return existing, False
        if existing is not None and overwrite:
            for field, value in fields.items():
                setattr(existing, field, value)
            existing.updated = timezone.now()
            existing.save(update_fields=[*fields, "updated"])
            return existing, True
        if not overwrite:
            same = uploads.filter(sha256=sha, kind=sniffed.kind).order_by("created", "id").first()
            if same is not None:
                return same, False
        taken = set(uploads.filter(**clash_filter(name)).values_list("name", flat=True))
        upload = Upload.objects.create(
            workspace=workspace, name=unique_name(name, taken), created_by=user, **fields
        )
    return upload, True


@transaction.atomic(durable=True)
def do_delete_upload(upload: Upload) -> None:
    """Delete the upload (its name becomes free); thumbnails go too once no upload shows that content."""
    sha = upload.sha256
    upload.delete()
    if not Upload.objects.filter(sha256=sha).exists():
        Thumbnail.objects.filter(source_sha=sha).delete()


def ensure_thumbnail(upload: Upload, size: int) -> str:
    """Return the blob sha of the PNG thumbnail of ``upload`` at ``size``, rendering and storing it once."""
    found = Thumbnail.objects.filter(source_sha=upload.sha256, size=size).values_list("sha256", flat=True)
    sha = found.first()
    if sha is not None:
        return sha
    store = get_blob_store()
    with store.open(upload.sha256) as source:
        data = render_thumbnail(source, size)
    sha = store.put(data)
    with transaction.atomic(durable=True):
        thumbnail, _ = Thumbnail.objects.get_or_create(
            source_sha=upload.sha256, size=size, defaults={"sha256": sha}
        )
    return thumbnail.sha256
