"""Request validation and response shapes of the uploads API."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.accounts.serializers import UserRefSerializer
from backend.uploads.models import Upload
from backend.uploads.thumbnails import DEFAULT_THUMBNAIL_SIZE, THUMBNAIL_SIZES

# Inputs


class UploadCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The file's bytes (multipart).")
    workspace = serializers.IntegerField()
    name = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, help_text="Defaults to the file's own name."
    )
    kind = serializers.ChoiceField(
        choices=Upload.Kind.choices, required=False, help_text="Default: decided from the bytes."
    )
    overwrite = serializers.BooleanField(
        default=False, help_text="Point an existing name at this content instead of picking a new name."
    )


class UploadListQuerySerializer(serializers.Serializer):
    workspace = serializers.IntegerField(required=False)
    kind = serializers.ChoiceField(choices=Upload.Kind.choices, required=False)
    q = serializers.CharField(required=False, allow_blank=True, help_text="Part of the name.")


class ThumbnailQuerySerializer(serializers.Serializer):
    size = serializers.ChoiceField(choices=THUMBNAIL_SIZES, default=DEFAULT_THUMBNAIL_SIZE)


# Outputs


class UploadSerializer(serializers.ModelSerializer):
    created_by = UserRefSerializer(allow_null=True)
    content_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id",
            "workspace",
            "name",
            "kind",
            "content_type",
            "size",
            "sha256",
            "width",
            "height",
            "created_by",
            "created",
            "updated",
            "content_url",
            "thumbnail_url",
        ]

    def get_content_url(self, upload: Upload) -> str:
        return reverse("upload-content", args=[upload.pk])

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_thumbnail_url(self, upload: Upload) -> str | None:
        if not upload.is_image:
            return None
        return reverse("upload-thumbnail", args=[upload.pk]) + f"?size={DEFAULT_THUMBNAIL_SIZE}"
