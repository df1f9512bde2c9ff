"""The node catalog: every node type the caller may use, with an ETag for cheap revalidation."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from workers.engine.registry import default_registry


def _etag_matches(header: str, etag: str) -> bool:
    candidates = {item.strip().removeprefix("W/") for item in header.split(",")}
    return "*" in candidates or f'"{etag}"' in candidates


class NodeCatalogView(APIView):
    # Later: filter by the packs installed in the caller's workspace (the ETag must then include them).

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 304: OpenApiResponse(description="Not modified")},
        summary="The node catalog",
    )
    def get(self, request):
        registry = default_registry()
        etag = registry.etag
        headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"}
        if _etag_matches(request.headers.get("If-None-Match", ""), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(registry.catalog(), headers=headers)
