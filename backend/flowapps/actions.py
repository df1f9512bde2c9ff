"""Every write to apps: publish, update, delete, keys, and runs of an app (with idempotency and rate limits)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User, hash_secret, new_secret
from backend.flowapps.files import file_resolver
from backend.flowapps.inputs import AppSpec, name_graph_errors, overrides_for, resolve_spec
from backend.flowapps.models import APP_KEY_PREFIX, App, AppKey, AppRun, runs_in_last_minute
from backend.registry.runtime import load_packs
from backend.runs.actions import do_create_run
from backend.runs.models import Run
from backend.workflows.documents import canonical_json
from backend.workflows.models import WorkflowVersion


class RateLimited(ApiError):
    """429 with the seconds to wait (the view sends them as ``Retry-After``)."""

    def __init__(self, limit: int, retry_after: int) -> None:
        message = f"This app allows {limit} runs a minute from one address; retry in {retry_after} s."
        super().__init__(message, [{"field": "rate_limit", "message": message}], status_code=429)
        self.retry_after = retry_after


def app_spec(app: App) -> AppSpec:
    """The app's inputs and outputs resolved against its workspace's node packs (as its runs will run)."""
    packs = load_packs(app.workspace, app.version.packs or None)
    return resolve_spec(app.section(), app.version.graph, packs.registry)


def _check_exposes(version: WorkflowVersion, workspace: Any) -> None:
    section = (version.layout or {}).get("app") or {}
    if not section.get("inputs") and not section.get("outputs"):
        message = (
            f"Version {version.number} exposes no inputs or outputs: mark some in the editor's App panel."
        )
        raise ApiError(message, [{"field": "version", "message": message}])
    packs = load_packs(workspace, version.packs or None)
    resolve_spec(section, version.graph, packs.registry)


@transaction.atomic(durable=True)
def do_publish_app(
    user: User,
    version: WorkflowVersion,
    *,
    slug: str,
    title: str,
    description: str = "",
    visibility: str = App.Visibility.WORKSPACE,
    public_rate_limit: int = 10,
) -> App:
    """Publish ``version`` (loaded with edit rights) as the app ``slug``; raise ``ApiError`` naming the field."""
    workflow = version.workflow
    _check_exposes(version, workflow.workspace)
    if App.objects.filter(slug=slug).exists():
        raise ApiError(f"The slug {slug!r} is taken.", [{"field": "slug", "message": "already taken"}], 409)
    return App.objects.create(
        workspace=workflow.workspace,
        workflow=workflow,
        version=version,
        slug=slug,
        title=title,
        description=description,
        visibility=visibility,
        public_rate_limit=public_rate_limit,
        created_by=user,
    )


@transaction.atomic(durable=True)
def do_update_app(app: App, *, version: WorkflowVersion | None = None, **fields: Any) -> App:
    """Change an app's title, description, visibility, rate limit, enabled flag, or pinned version."""
    if version is not None:
        _check_exposes(version, app.workspace)
        app.version = version
        fields["version"] = version
    for name, value in fields.items():
        setattr(app, name, value)
    app.updated = timezone.now()
    app.save(update_fields=[*fields, "updated"])
    return app


@transaction.atomic(durable=True)
def do_delete_app(app: App) -> None:
    """Delete the app, its keys and its run records (the runs themselves stay in the workspace's history)."""
    app.delete()


def do_create_app_key(app: App, user: User, name: str) -> AppKey:
    """A new key for ``app``; ``key.raw`` holds the secret, shown once and never stored."""
    raw = new_secret(APP_KEY_PREFIX)
    key = AppKey.objects.create(
        app=app, name=name, prefix=raw[:12], key_hash=hash_secret(raw), created_by=user
    )
    key.raw = raw
    return key


@transaction.atomic(durable=True)
def do_revoke_app_key(key: AppKey) -> None:
    AppKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@dataclass(frozen=True)
class Caller:
    """Who starts a run of an app: the user it is attributed to, how they came in, and their identity."""

    user: User
    via: str
    identity: str
    key: AppKey | None = None
    source: str = Run.Source.API


def request_hash(body: Any) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _check_rate_limit(app: App, caller: Caller) -> None:
    if caller.via != AppRun.Via.PUBLIC:
        return
    recent = runs_in_last_minute(app, caller.identity)
    if len(recent) >= app.public_rate_limit:
        oldest = recent[-app.public_rate_limit]
        wait = 60 - (timezone.now() - oldest).total_seconds()
        raise RateLimited(app.public_rate_limit, max(1, math.ceil(wait)))


def _same_request(existing: AppRun, digest: str) -> AppRun:
    if existing.request_hash != digest:
        message = "This Idempotency-Key was used with a different body."
        raise ApiError(message, [{"field": "Idempotency-Key", "message": message}], status_code=422)
    if existing.is_pending():
        message = "A request with this Idempotency-Key is still being processed; retry shortly."
        raise ApiError(message, [{"field": "Idempotency-Key", "message": message}], status_code=409)
    return existing


def do_run_app(app: App, caller: Caller, body: Any, idempotency_key: str = "") -> tuple[AppRun, bool]:
    """Start a run of ``app`` with the exposed inputs in ``body``; returns (record, created).

    With ``idempotency_key``, a retry with the same body returns the first request's run (created False), a
    different body answers 422. Public callers are held to the app's runs per minute (429).
    """
    digest = request_hash(body)
    reserved: AppRun | None = None
    if idempotency_key:
        existing = AppRun.objects.filter(
            app=app, caller=caller.identity, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return _same_request(existing, digest), False
    _check_rate_limit(app, caller)
    if idempotency_key:
        try:
            with transaction.atomic(durable=True):
                reserved = AppRun.objects.create(
                    app=app,
                    via=caller.via,
                    key=caller.key,
                    caller=caller.identity,
                    idempotency_key=idempotency_key,
                    request_hash=digest,
                )
        except IntegrityError:
            existing = AppRun.objects.get(app=app, caller=caller.identity, idempotency_key=idempotency_key)
            return _same_request(existing, digest), False
    try:
        spec = app_spec(app)
        overrides, resolved = overrides_for(spec, body, file_resolver(app, caller.user))
        try:
            run = do_create_run(
                caller.user,
                workspace=app.workspace,
                workflow_version=app.version,
                overrides=overrides,
                source=caller.source,
            )
        except ApiError as exc:
            raise name_graph_errors(exc, spec) from None
    except BaseException:
        if reserved is not None:
            reserved.delete()  # the key may be retried once the request is fixed
        raise
    if reserved is not None:
        AppRun.objects.filter(pk=reserved.pk).update(run=run, inputs=resolved)
        reserved.run, reserved.inputs = run, resolved
        return reserved, True
    record = AppRun.objects.create(
        app=app,
        run=run,
        via=caller.via,
        key=caller.key,
        caller=caller.identity,
        request_hash=digest,
        inputs=resolved,
    )
    return record, True
