"""ComfyUI's HTTP API (server.py routes) over Flowyard: every call is a signed-in user's. Runs, outputs and
uploads are reached only through the access layer (``backend.accounts.access``, via ``history``), so the answers
match the native API's: the caller's own queue and history in lists, any run they may see by its id, 404 for
the rest. State-changing calls made with browser credentials pass ``csrf.check_cross_site`` first. Answers keep
ComfyUI's shapes, so existing clients and scripts work unchanged.

Which workspace a call uses (runs, uploads, the upload lists in ``/object_info``), first match wins:
``extra_data.flowyard_workspace`` (``POST /prompt`` only), the ``X-Flowyard-Workspace`` header or
``?workspace=`` (an id or slug), the token's setting (``PUT /api/comfy/tokens/<id>``), else the caller's
personal workspace.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from PIL import Image, ImageOps, PngImagePlugin
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.access import (
    Need,
    access_run,
    access_workspace,
    check_need,
    visible_uploads,
)
from backend.accounts.exceptions import ApiError
from backend.accounts.models import ApiToken, Membership, User, Workspace, hash_secret
from backend.accounts.roles import Role
from backend.compat import history as comfy_history
from backend.compat.auth import SAFE_METHODS, Caller, NotAuthenticated, authenticate_request
from backend.compat.csrf import CrossSiteRefused, check_cross_site
from backend.compat.live import notify_queue
from backend.compat.models import ComfyTokenSettings
from backend.compat.prompts import PromptInvalid, submit_prompt
from backend.compat.schemas import object_info
from backend.core.json_input import loads_strict
from backend.runs.actions import RunConflict, do_cancel_run
from backend.runs.models import Run, RunOutput
from backend.runs.nodes import option_sources_for_workspace, registry_for_workspace
from backend.storage.blobs import BlobNotFound, get_blob_store
from backend.storage.responses import blob_response
from backend.uploads.actions import do_upload
from backend.uploads.handlers import SizeLimitedUploadHandler, max_upload_bytes
from backend.uploads.models import Upload
from backend.uploads.sniffing import IMAGE_FORMATS, ImageTooLarge, NotAnImage, sniff_image

COMFYUI_VERSION = "0.3.60"
DEFAULT_HISTORY_ITEMS = 200
SPOOL_BYTES = 8 * 1024 * 1024  # /upload/mask: images up to this size are combined in memory, larger on disk


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def comfy_view(methods: tuple[str, ...]) -> Callable:
    """Authenticate the caller, allow ``methods``, refuse cross-site writes, and turn our errors into plain JSON
    answers."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(
            request: HttpRequest, *args: Any, token: str | None = None, **kwargs: Any
        ) -> HttpResponseBase:
            if request.method not in methods:
                return JsonResponse({"error": f"Method {request.method} not allowed."}, status=405)
            if request.method not in SAFE_METHODS:
                # Before anything reads the body: the CSRF check may parse a multipart form.
                request.upload_handlers = [SizeLimitedUploadHandler(request), *request.upload_handlers]
            try:
                caller = authenticate_request(request, token)
            except NotAuthenticated as exc:
                response = JsonResponse({"error": str(exc)}, status=401)
                response["WWW-Authenticate"] = 'Basic realm="Flowyard (API token as password)"'
                return response
            try:
                check_cross_site(request, caller)
                return view(request, caller, *args, **kwargs)
            except CrossSiteRefused as exc:
                return JsonResponse({"error": str(exc)}, status=403)
            except BadRequest as exc:
                return JsonResponse({"error": str(exc)}, status=exc.status)
            except ApiError as exc:
                return JsonResponse({"error": exc.payload["detail"], "errors": exc.payload["errors"]},
                                    status=exc.status_code)  # fmt: skip
            except NotFound as exc:
                return JsonResponse({"error": str(exc.detail)}, status=404)
            except PermissionDenied as exc:
                return JsonResponse({"error": str(exc.detail)}, status=403)

        return wrapper

    return decorate


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        raw = request.body
    except RawPostDataException:
        raise BadRequest("The body is not JSON.") from None
    body = loads_strict(raw)  # malformed, too deep or out-of-range JSON answers 400 naming the limit
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def _workspace_ref(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    found = Workspace.objects.filter(slug=str(value)).only("pk").first()
    if found is None:
        raise NotFound("No such workspace.")
    return found.pk


def workspace_for(
    request: HttpRequest, caller: Caller, chosen: Any = None, need: Need = Need.VIEW
) -> Workspace:
    """The workspace this call works in (see the module docstring), checked for ``need``."""
    ref = _workspace_ref(chosen)
    if ref is None:
        ref = _workspace_ref(request.headers.get("X-Flowyard-Workspace") or request.GET.get("workspace"))
    if ref is not None:
        return access_workspace(caller.user, ref, need)
    # One query for the workspace, the caller's role in it, and which one it is: the token's setting (the token
    # itself was checked by authenticate_request), else the caller's personal workspace. Written out: the ORM
    # spent longer building this query (three subqueries) than the database running it, on every prompt.
    token_hash = hash_secret(caller.token.strip()) if caller.token is not None else None
    found = list(
        Workspace.objects.raw(_default_workspace_sql(), [caller.user.pk, token_hash, caller.user.pk])
    )
    workspace = found[0] if found else None
    member_role = getattr(workspace, "member_role", None)  # the query's extra column
    role = Role(member_role) if member_role else None
    if workspace is None or role is None:
        raise NotFound("No such workspace.")
    workspace.role = role
    check_need(role, need, "workspace")
    return workspace


@functools.cache
def _default_workspace_sql() -> str:
    """``workspace_for``'s query: the workspace with the caller's role in it (``member_role``), chosen by the
    token's setting, else the caller's personal one. Parameters: user id, token hash (None: no token), user id."""
    workspace, membership = Workspace._meta, Membership._meta
    settings_table, token = ComfyTokenSettings._meta.db_table, ApiToken._meta.db_table
    columns = ", ".join(f'w."{field.column}"' for field in workspace.concrete_fields)
    return (
        f'SELECT {columns}, (SELECT m."role" FROM "{membership.db_table}" m'
        ' WHERE m."workspace_id" = w."id" AND m."user_id" = %s LIMIT 1) AS "member_role"'
        f' FROM "{workspace.db_table}" w WHERE w."id" = COALESCE('
        f'(SELECT s."workspace_id" FROM "{settings_table}" s INNER JOIN "{token}" t ON s."token_id" = t."id"'
        ' WHERE t."token_hash" = %s AND t."revoked_at" IS NULL ORDER BY s."id" LIMIT 1),'
        f' (SELECT p."id" FROM "{workspace.db_table}" p WHERE p."personal_owner_id" = %s LIMIT 1))'
    )


# Queue and prompts


@comfy_view(("GET", "POST"))
def prompt(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse({"exec_info": {"queue_remaining": comfy_history.queue_remaining(caller.user)}})
    body = _json_body(request)
    extra = body.get("extra_data")
    chosen = extra.get("flowyard_workspace") if isinstance(extra, dict) else None
    workspace = workspace_for(request, caller, chosen, Need.RUN)
    try:
        submitted = submit_prompt(caller.user, workspace, body)
    except PromptInvalid as invalid:
        return JsonResponse(invalid.body, status=400)
    record = submitted.prompt
    return JsonResponse(
        {"prompt_id": record.prompt_id, "number": record.number, "node_errors": submitted.node_errors}
    )


def _cancel(user: User, prompt_ids: list[str], status: str) -> None:
    """Cancel the prompts among ``prompt_ids`` that are in ``status`` and whose runs the user may cancel
    (``access_run_to_manage``: one's own with ``run``, a teammate's with ``edit``); the others are ignored, as
    ComfyUI ignores ids it does not know. Each owner's sockets hear of their shorter queue."""
    owners = set()
    for prompt_id in dict.fromkeys(prompt_ids):
        record = comfy_history.manageable_prompt(user, prompt_id)
        if record is None or record.run.status != status:
            continue
        try:
            do_cancel_run(record.run)
        except RunConflict:
            continue  # finished meanwhile
        owners.add(record.user_id)
    for owner in owners:
        notify_queue(owner)


def _own_prompt_ids(caller: Caller, status: str) -> list[str]:
    prompts = comfy_history.user_prompts(caller.user).filter(run__status=status).order_by("created", "id")
    return list(prompts.values_list("prompt_id", flat=True))


@comfy_view(("GET", "POST"))
def queue(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse(comfy_history.queue(caller.user))
    body = _json_body(request)
    prompt_ids: list[str] = []
    if body.get("clear"):
        prompt_ids += _own_prompt_ids(caller, Run.Status.QUEUED)
    if isinstance(body.get("delete"), list):
        prompt_ids += [str(item) for item in body["delete"]]
    _cancel(caller.user, prompt_ids, Run.Status.QUEUED)
    return HttpResponse(status=200)


@comfy_view(("POST",))
def interrupt(request: HttpRequest, caller: Caller) -> HttpResponse:
    body = _json_body(request)
    if body.get("prompt_id"):
        prompt_ids = [str(body["prompt_id"])]
    else:
        prompt_ids = _own_prompt_ids(caller, Run.Status.RUNNING)
    _cancel(caller.user, prompt_ids, Run.Status.RUNNING)
    return HttpResponse(status=200)


@comfy_view(("GET", "POST"))
def history(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method == "POST":
        body = _json_body(request)
        finished = comfy_history.user_prompts(caller.user).filter(run__status__in=Run.FINISHED)
        # Forgets the prompts here only: the runs stay in Flowyard's own history.
        if body.get("clear"):
            finished.delete()
        if isinstance(body.get("delete"), list):
            finished.filter(prompt_id__in=[str(item) for item in body["delete"]]).delete()
        return HttpResponse(status=200)
    try:
        max_items = int(request.GET.get("max_items", DEFAULT_HISTORY_ITEMS))
        offset = max(0, int(request.GET.get("offset", 0)))
    except ValueError:
        raise BadRequest("max_items and offset must be integers.") from None
    return JsonResponse(comfy_history.history(caller.user, max(0, max_items), offset))


@comfy_view(("GET",))
def history_item(request: HttpRequest, caller: Caller, prompt_id: str) -> HttpResponse:
    """Any prompt whose run the caller may see (404 for the others, as the native API); ``{}`` until it ends."""
    record = comfy_history.access_prompt(caller.user, prompt_id)
    if not record.run.is_finished():
        return JsonResponse({})
    return JsonResponse({record.prompt_id: comfy_history.history_entry(record)})


# Files


def _strip_annotation(name: str) -> tuple[str, str | None]:
    for kind in ("input", "output", "temp"):
        suffix = f" [{kind}]"
        if name.endswith(suffix):
            return name[: -len(suffix)], kind
    return name, None


def _run_of(caller: Caller, subfolder: str) -> Run | None:
    """The run a ``subfolder`` names (a prompt id, or a run id) if the caller may see it, else None."""
    try:
        return comfy_history.access_prompt(caller.user, subfolder, graphs=False).run
    except NotFound:
        pass
    try:
        return access_run(caller.user, subfolder, graphs=False)
    except NotFound:
        return None


COMFY_FOLDER_TYPES = ("input", "output", "temp")


def _safe_name(value: str, field: str) -> str:
    """``value`` when it names a place inside ComfyUI's folders; a 400 naming ``field`` for a traversal."""
    parts = value.replace("\\", "/").split("/")
    if "\x00" in value or value.startswith(("/", "\\")) or ".." in parts or len(value) > 255:
        raise BadRequest(
            f"{field}: {value[:80]!r} is not allowed (no '..', absolute paths or NUL; at most 255)."
        )
    return value


def _folder_type(value: str | None, default: str, field: str = "type") -> str:
    kind = value or default
    if kind not in COMFY_FOLDER_TYPES:
        raise BadRequest(f"{field}: must be one of {', '.join(COMFY_FOLDER_TYPES)}, got {kind[:40]!r}.")
    return kind


@dataclass(frozen=True)
class _StoredFile:
    """A file ComfyUI's ``(filename, subfolder, type)`` named, found where the caller may read it."""

    sha: str
    name: str
    content_type: str
    as_attachment: bool


def _readable_file(
    request: HttpRequest,
    caller: Caller,
    raw_filename: str,
    raw_type: str | None,
    raw_subfolder: str,
    *,
    field: str = "",
    workspace: Workspace | None = None,
) -> _StoredFile:
    """The file ``/view`` serves for these parameters: an ``output``/``temp`` file of a run the caller may see
    (the prompt or run id as ``subfolder``), else an upload of the call's workspace by name. ``NotFound`` for
    anything else, readable by others or not; a 400 naming ``field`` + the parameter for a bad one."""
    filename, annotated = _strip_annotation(raw_filename)
    if not filename or filename in (".", ".."):
        raise BadRequest(f"{field}filename is required.")
    _safe_name(filename, f"{field}filename")  # NUL, '..' and absolute paths
    kind = annotated or _folder_type(raw_type, "output", f"{field}type")
    subfolder = _safe_name(raw_subfolder, f"{field}subfolder")
    if kind in ("output", "temp") and subfolder:
        run = _run_of(caller, subfolder)
        if run is not None:
            output = (
                RunOutput.objects.filter(run=run, filename=filename, blob_sha__isnull=False)
                .exclude(kind=RunOutput.Kind.PREVIEW)
                .order_by("id")
                .first()
            )
            if output is not None and output.blob_sha:
                return _StoredFile(output.blob_sha, output.filename, output.content_type, False)
    workspace = workspace or workspace_for(request, caller)
    upload = (
        visible_uploads(caller.user).filter(workspace=workspace, name=filename.rsplit("/", 1)[-1]).first()
    )
    if upload is None:
        raise NotFound("No such file.")
    return _StoredFile(upload.sha256, upload.name, upload.content_type, not upload.is_image)


@comfy_view(("GET", "HEAD"))
def view(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    params = request.GET
    found = _readable_file(
        request, caller, params.get("filename", ""), params.get("type"), params.get("subfolder", "")
    )
    return blob_response(
        found.sha, found.name, found.content_type, request, as_attachment=found.as_attachment
    )


@dataclass(frozen=True)
class _UploadForm:
    """What ``/upload/image`` and ``/upload/mask`` share: the ``image`` file, where ComfyUI would put it, and the
    workspace it goes to (checked for ``run``, and ``edit`` to overwrite)."""

    file: UploadedFile
    subfolder: str
    folder_type: str
    overwrite: bool
    workspace: Workspace


def _uploaded_image(request: HttpRequest) -> UploadedFile:
    file = request.FILES.get("image")
    if file is None:
        raise BadRequest("No file in the 'image' field.")
    return file


def _upload_form(request: HttpRequest, caller: Caller, file: UploadedFile) -> _UploadForm:
    overwrite = request.POST.get("overwrite", "").lower() in ("true", "1")
    subfolder = _safe_name(request.POST.get("subfolder", ""), "subfolder")
    folder_type = _folder_type(request.POST.get("type"), "input")
    _safe_name(file.name or "", "image")
    workspace = workspace_for(request, caller, need=Need.RUN)
    if overwrite:
        check_need(workspace.role, Need.EDIT, "workspace")
    return _UploadForm(file, subfolder, folder_type, overwrite, workspace)


def _store_upload(
    caller: Caller, form: _UploadForm, fileobj: BinaryIO, kind: str, content_type: str
) -> JsonResponse:
    """Store the bytes under the form's file name; ComfyUI's answer ``{name, subfolder, type}``."""
    upload, _ = do_upload(
        caller.user,
        form.workspace,
        fileobj,
        form.file.name or "image.png",
        kind=kind,
        client_content_type=content_type,
        overwrite=form.overwrite,
    )
    return JsonResponse({"name": upload.name, "subfolder": form.subfolder, "type": form.folder_type})


@comfy_view(("POST",))
def upload_image(request: HttpRequest, caller: Caller) -> HttpResponse:
    form = _upload_form(request, caller, _uploaded_image(request))
    file = form.file
    return _store_upload(
        caller,
        form,
        cast(BinaryIO, file),  # an UploadedFile reads, seeks and tells like the binary file it wraps
        _comfy_upload_kind(file.name or "", file.content_type or ""),
        file.content_type or "",
    )


def _original_ref(request: HttpRequest) -> dict[str, str]:
    """``/upload/mask``'s ``original_ref``: a JSON object naming the image the mask was painted on."""
    raw = request.POST.get("original_ref")
    if not raw:
        raise BadRequest(
            "original_ref: required, a JSON object {filename, subfolder, type} naming the image the mask is for."
        )
    ref = loads_strict(raw, "original_ref")
    if not isinstance(ref, dict):
        raise BadRequest("original_ref: must be a JSON object {filename, subfolder, type}.")
    fields: dict[str, str] = {}
    for key in ("filename", "subfolder", "type"):
        value = ref.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"original_ref.{key}: must be a string.")
        fields[key] = value or ""
    if not fields["filename"]:
        raise BadRequest("original_ref.filename is required.")
    return fields


def _check_image(fileobj: BinaryIO, field: str) -> None:
    """A 400 naming ``field`` unless the bytes are an image Flowyard decodes, within the pixel limit."""
    try:
        sniff_image(fileobj)
    except (NotAnImage, ImageTooLarge) as exc:
        raise BadRequest(f"{field}: not an image we can use ({exc}).") from None


@comfy_view(("POST",))
def upload_mask(request: HttpRequest, caller: Caller) -> HttpResponse:
    """ComfyUI's mask editor: ``image`` is the painted mask (its alpha channel is the mask), ``original_ref``
    the image it was painted on. The original's pixels with the mask's alpha are stored as a PNG under the
    mask's file name, like ``/upload/image``. The original is looked up as ``/view`` does (404 when the caller
    may not read it); a mask of another size than the (EXIF-oriented) original is refused, not resized."""
    file = _uploaded_image(request)
    ref = _original_ref(request)
    form = _upload_form(request, caller, file)
    mask_file = cast(BinaryIO, file)
    _check_image(mask_file, "image")
    found = _readable_file(
        request, caller, ref["filename"], ref["type"] or None, ref["subfolder"],
        field="original_ref.", workspace=form.workspace,
    )  # fmt: skip
    with _blob_copy(found.sha) as original, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        _check_image(original, "original_ref")
        masked = cast(BinaryIO, spool)
        _write_masked_png(original, mask_file, found.name, masked)
        masked.seek(0)
        return _store_upload(caller, form, masked, str(Upload.Kind.IMAGE), "image/png")


@contextlib.contextmanager
def _blob_copy(sha: str) -> Iterator[BinaryIO]:
    """A seekable copy of a stored blob (an S3 body streams once); ``NotFound`` when the blob is gone."""
    try:
        source = get_blob_store().open(sha)
    except BlobNotFound:
        raise NotFound("No such file.") from None
    with source, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as copy:
        shutil.copyfileobj(source, copy)
        copy.seek(0)
        yield cast(BinaryIO, copy)


def _write_masked_png(original: BinaryIO, mask: BinaryIO, original_name: str, out: BinaryIO) -> None:
    """Write to ``out`` a PNG of ``original`` whose alpha channel is ``mask``'s (a mask without alpha is opaque,
    as in ComfyUI), keeping the original's PNG text chunks (the workflow). A 400 naming ``image`` when the
    sizes differ."""
    picture, text = _decoded_rgba(original, "original_ref")
    alpha = _decoded_rgba(mask, "image")[0].getchannel("A")
    if alpha.size != picture.size:
        raise BadRequest(
            f"image: the mask is {alpha.size[0]}x{alpha.size[1]} pixels but the original {original_name!r} is "
            f"{picture.size[0]}x{picture.size[1]}; paint the mask at the original's size (it is not resized)."
        )
    picture.putalpha(alpha)
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    picture.save(out, format="PNG", pnginfo=info, compress_level=4)


def _decoded_rgba(fileobj: BinaryIO, field: str) -> tuple[Image.Image, dict[str, str]]:
    """The image's first frame as RGBA, EXIF-oriented (as ``LoadImage`` and the browser show it), and its PNG
    text chunks; a 400 naming ``field`` when it does not decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked against the limit
            fileobj.seek(0)
            with Image.open(fileobj, formats=IMAGE_FORMATS) as source:
                text = getattr(source, "text", {})
                frame = ImageOps.exif_transpose(source)
                if frame.mode.startswith("I"):
                    # 16-bit greyscale: to the 8-bit range, as LoadImage does
                    frame = frame.convert("I").point(lambda value: value * (1 / 255))
                picture = frame.convert("RGBA")
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise BadRequest(f"{field}: the image could not be decoded ({exc}).") from None
    return picture, {key: value for key, value in text.items() if isinstance(value, str)}


def _comfy_upload_kind(name: str, content_type: str) -> str:
    """ComfyUI's frontend sends videos and audio (LoadVideo, LoadAudio) to /upload/image too."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if content_type.startswith("video/") or extension in ("mp4", "webm", "mkv", "mov", "avi"):
        return str(Upload.Kind.VIDEO)
    if content_type.startswith("audio/") or extension in ("wav", "flac", "mp3", "ogg", "m4a", "opus"):
        return str(Upload.Kind.AUDIO)
    return str(Upload.Kind.IMAGE)


# Catalog and server information


def _options_for(workspace: Workspace) -> Callable[[str], Any]:
    sources = option_sources_for_workspace(workspace)
    return functools.lru_cache(maxsize=None)(sources)


@comfy_view(("GET",))
def object_info_all(request: HttpRequest, caller: Caller) -> HttpResponse:
    workspace = workspace_for(request, caller)
    options = _options_for(workspace)
    registry = registry_for_workspace(workspace)
    return JsonResponse({entry.schema.id: object_info(entry, options) for entry in registry})


@comfy_view(("GET",))
def object_info_one(request: HttpRequest, caller: Caller, node_class: str) -> HttpResponse:
    workspace = workspace_for(request, caller)
    entry = registry_for_workspace(workspace).get(node_class)
    if entry is None:
        return JsonResponse({})
    return JsonResponse({node_class: object_info(entry, _options_for(workspace))})


def _ram() -> tuple[int, int]:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0, 0


@comfy_view(("GET",))
def system_stats(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Host details for site admins only; everyone else gets the same keys, blank, so clients still parse it."""
    system: dict[str, Any] = {
        "os": "",
        "ram_total": 0,
        "ram_free": 0,
        "comfyui_version": f"{COMFYUI_VERSION} (Flowyard)",
        "required_frontend_version": "",
        "python_version": "",
        "pytorch_version": "",
        "embedded_python": False,
        "argv": [],
        "flowyard": {"dispatcher": "", "machine": ""},
    }
    if caller.user.is_site_admin:
        total, free = _ram()
        system |= {
            "os": os.name if sys.platform != "linux" else "posix",
            "ram_total": total,
            "ram_free": free,
            "python_version": sys.version,
            "flowyard": {"dispatcher": settings.FLOWYARD_DISPATCHER, "machine": platform.machine()},
        }
    return JsonResponse({"system": system, "devices": []})


@comfy_view(("GET",))
def features(request: HttpRequest, caller: Caller) -> HttpResponse:
    return JsonResponse({"supports_preview_metadata": True, "max_upload_size": max_upload_bytes()})


@comfy_view(("GET",))
def empty_list(request: HttpRequest, caller: Caller, folder: str | None = None) -> HttpResponse:
    return JsonResponse([], safe=False)


@comfy_view(("POST",))
def free(request: HttpRequest, caller: Caller) -> HttpResponse:
    return HttpResponse(status=200)  # workers manage their own memory
