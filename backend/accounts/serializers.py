"""Request validation and response shapes of the accounts API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from backend.accounts.actions import MAX_INVITE_HOURS
from backend.accounts.models import ApiToken, Invite, Membership, User, Workspace
from backend.accounts.roles import Role


class WorkspaceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["id", "slug"]


class UserSerializer(serializers.ModelSerializer):
    is_site_admin = serializers.BooleanField(read_only=True)
    personal_workspace = WorkspaceRefSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_site_admin", "personal_workspace"]


class UserRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class SignupSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate_username(self, value: str) -> str:
        # Whether the name is taken is not checked here: sign-up answers the same either way (views.SignupView).
        User.username_validator(value)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class SignupDoneSerializer(serializers.Serializer):
    detail = serializers.CharField()


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, trim_whitespace=False)


class CsrfSerializer(serializers.Serializer):
    csrf_token = serializers.CharField()


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created", "last_used"]
        read_only_fields = ["id", "prefix", "created", "last_used"]


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token itself; shown only this once.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class WorkspaceSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)

    class Meta:
        model = Workspace
        fields = ["id", "slug", "name", "kind", "role", "created"]
        read_only_fields = ["id", "slug", "kind", "role", "created"]


class TeamNameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class MemberSerializer(serializers.ModelSerializer):
    user = UserRefSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role", "joined"]


class AssignableRoleField(serializers.ChoiceField):
    """A role that can be given to a member (owner only comes with a transfer)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Role.choices, **kwargs)

    def to_internal_value(self, data: Any) -> Role:
        role = Role(super().to_internal_value(data))
        if role == Role.OWNER:
            raise serializers.ValidationError("The owner role is only given by transferring ownership.")
        return role


class AddMemberSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = AssignableRoleField()

    def validate_username(self, value: str) -> User:
        user = User.objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"No user named {value!r}.")
        return user


class ChangeRoleSerializer(serializers.Serializer):
    role = AssignableRoleField()


class TransferSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()


class InviteCreateSerializer(serializers.Serializer):
    role = AssignableRoleField()
    expires_in_hours = serializers.IntegerField(min_value=1, max_value=MAX_INVITE_HOURS, default=72)


class InviteSerializer(serializers.ModelSerializer):
    created_by = UserRefSerializer(read_only=True)

    class Meta:
        model = Invite
        fields = ["id", "role", "created", "created_by", "expires"]


class NewInviteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    token = serializers.CharField(help_text="The invite secret; shown only this once.")
    url = serializers.CharField(help_text="A link to the editor page that accepts the invite.")
    expires = serializers.DateTimeField()


class AcceptedInviteSerializer(serializers.Serializer):
    workspace = WorkspaceSerializer()
