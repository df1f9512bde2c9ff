"""The OpenAPI document of one app, generated from its exposed inputs and outputs."""

from __future__ import annotations

from typing import Any

from backend.flowapps.inputs import AppSpec
from backend.flowapps.models import App

_ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def app_openapi(app: App, spec: AppSpec, server: str) -> dict[str, Any]:
    """An OpenAPI 3.1 document for ``POST /api/apps/<slug>/runs``, its run status and uploads."""
    base = f"/api/apps/{app.slug}"
    inputs = {
        "type": "object",
        "additionalProperties": False,
        "properties": {item.name: item.json_schema() for item in spec.inputs},
        "required": [item.name for item in spec.inputs if item.required],
    }
    output_item = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["image", "video", "audio", "file", "text", "json"]},
            "node": {"type": "string"},
            "url": {"type": "string", "format": "uri", "description": "Signed download URL; expires."},
            "filename": {"type": "string"},
            "content_type": {"type": "string"},
            "size": {"type": "integer"},
            "text": {"type": "string"},
            "data": {},
        },
    }
    outputs = {
        "type": "object",
        "properties": {
            out.name: {
                "title": out.label,
                "type": "array",
                "items": {"$ref": "#/components/schemas/OutputItem"},
            }
            for out in spec.outputs
        },
    }
    run = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "app": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
            "created": {"type": "string", "format": "date-time"},
            "finished": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": "string"},
            "progress": {
                "type": "object",
                "properties": {"total": {"type": "integer"}, "finished": {"type": "integer"}},
            },
            "inputs": {"type": "object"},
            "outputs": {"$ref": "#/components/schemas/Outputs"},
        },
    }
    security: list[dict[str, list[str]]] = [] if app.is_public else [{"appKey": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": app.title,
            "description": app.description or f"Runs of the Flowyard app {app.slug}.",
            "version": str(app.version.number),
        },
        "servers": [{"url": server}],
        "security": security,
        "paths": {
            f"{base}/runs": {
                "post": {
                    "operationId": "startRun",
                    "summary": f"Start a run of {app.title}",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                            "description": "A retry with the same key and body returns the same run.",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Inputs"}}},
                    },
                    "responses": {
                        "201": {
                            "description": "The run was queued",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}},
                        },
                        "200": {
                            "description": "A retry of an earlier request (same Idempotency-Key and body)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}},
                        },
                        "400": _error("An input is invalid; errors[].field names it"),
                        "409": _error("The first request with this Idempotency-Key is still being processed"),
                        "422": _error("The Idempotency-Key was used with a different body"),
                        "429": _error("Too many runs from this address (public apps); see Retry-After"),
                    },
                }
            },
            f"{base}/runs/{{run_id}}": {
                "get": {
                    "operationId": "getRun",
                    "summary": "Status, progress and outputs of a run",
                    "parameters": [
                        {
                            "name": "run_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The run",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}},
                        },
                        "404": _error("No such run of this app (for this caller)"),
                    },
                }
            },
            f"{base}/uploads": {
                "post": {
                    "operationId": "uploadFile",
                    "summary": "Upload a file for an image or file input; pass the answer's id as the input",
                    "requestBody": {
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                    "required": ["file"],
                                }
                            }
                        }
                    },
                    "responses": {"201": {"description": "The upload: {id, name, kind}"}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "appKey": {"type": "http", "scheme": "bearer", "description": "An app key (fyk_...)"}
            },
            "schemas": {
                "Inputs": inputs,
                "Outputs": outputs,
                "OutputItem": output_item,
                "Run": run,
                "Error": _ERROR,
            },
        },
    }
