"""Accounts API: sign-up and sessions, API tokens, workspaces, teams, members and invites."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import actions
from backend.accounts.access import Need, access_team, role_subquery
from backend.accounts.authentication import AuthenticatedRequest
from backend.accounts.exceptions import ApiError
from backend.accounts.models import Workspace
from backend.accounts.roles import Role
from backend.accounts.serializers import (
    AcceptedInviteSerializer,
    AddMemberSerializer,
    ChangeRoleSerializer,
    CsrfSerializer,
    InviteCreateSerializer,
    InviteSerializer,
    LoginSerializer,
    MemberSerializer,
    NewInviteSerializer,
    NewTokenSerializer,
    SignupDoneSerializer,
    SignupSerializer,
    TeamNameSerializer,
    TokenSerializer,
    TransferSerializer,
    UserSerializer,
    WorkspaceSerializer,
)


class _CsrfCheck(SessionAuthentication):
    """Reuses DRF's CSRF check for views that log a browser in (login CSRF)."""


def enforce_csrf(request: Request) -> None:
    """Reject unsafe requests from browsers that lack the CSRF token, even when anonymous."""
    _CsrfCheck().enforce_csrf(request)


# Sessions


class CsrfView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=CsrfSerializer, summary="Set the csrftoken cookie")
    @method_decorator(ensure_csrf_cookie)
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request)})


SIGNUP_DONE = "If this username was free, the account is created: sign in with it."


class SignupView(APIView):
    """Sign-up answers the same 202 whether the username was free or taken, so it cannot list who has an account.

    It does not sign in: the client signs in next with the same credentials, and that check is the throttled
    login (django-axes), which is then the only way to learn that a name is taken, a few tries at a time. Invalid
    input (a weak password, a malformed username or email) still answers 400 naming the field: those answers do
    not depend on other accounts.
    """

    permission_classes = [AllowAny]

    @extend_schema(
        request=SignupSerializer,
        responses={202: SignupDoneSerializer},
        summary="Sign up (then sign in with the same credentials)",
    )
    def post(self, request: Request) -> Response:
        enforce_csrf(request)
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        actions.do_sign_up(**serializer.validated_data)
        return Response({"detail": SIGNUP_DONE}, status=status.HTTP_202_ACCEPTED)


class LoginView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=LoginSerializer, responses=UserSerializer, summary="Log in (session cookie)")
    def post(self, request: Request) -> Response:
        enforce_csrf(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request._request, **serializer.validated_data)
        if user is None:
            raise ApiError("Wrong username or password.")
        login(request._request, user)
        return Response(UserSerializer(user).data)


class LogoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None}, summary="Log out")
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


# API tokens


class TokenListView(APIView):
    @extend_schema(responses=TokenSerializer(many=True), summary="My active API tokens")
    def get(self, request: AuthenticatedRequest) -> Response:
        tokens = request.user.api_tokens.filter(revoked_at__isnull=True)
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(
        request=TokenSerializer, responses={201: NewTokenSerializer}, summary="Create an API token"
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = TokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = actions.do_create_token(request.user, serializer.validated_data["name"])
        token.token = raw
        return Response(NewTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    @extend_schema(responses={204: None}, summary="Revoke an API token")
    def delete(self, request: AuthenticatedRequest, token_id: int) -> Response:
        actions.do_revoke_token(request.user, token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Workspaces and teams


class WorkspaceListView(APIView):
    @extend_schema(responses=WorkspaceSerializer(many=True), summary="My workspaces, with my role in each")
    def get(self, request: AuthenticatedRequest) -> Response:
        workspaces = list(
            Workspace.objects.filter(memberships__user=request.user).annotate(
                member_role=role_subquery(request.user)
            )
        )
        for workspace in workspaces:
            workspace.role = Role(workspace.member_role)
        return Response(WorkspaceSerializer(workspaces, many=True).data)


class TeamListView(APIView):
    @extend_schema(request=TeamNameSerializer, responses={201: WorkspaceSerializer}, summary="Create a team")
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = TeamNameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = actions.do_create_team(request.user, serializer.validated_data["name"])
        return Response(WorkspaceSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamDetailView(APIView):
    @extend_schema(responses=WorkspaceSerializer, summary="A team")
    def get(self, request: AuthenticatedRequest, team_id: int) -> Response:
        return Response(WorkspaceSerializer(access_team(request.user, team_id)).data)

    @extend_schema(request=TeamNameSerializer, responses=WorkspaceSerializer, summary="Rename a team")
    def patch(self, request: AuthenticatedRequest, team_id: int) -> Response:
        team = access_team(request.user, team_id, Need.ADMIN)
        serializer = TeamNameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = actions.do_rename_team(team, serializer.validated_data["name"])
        return Response(WorkspaceSerializer(team).data)

    @extend_schema(responses={204: None}, summary="Delete a team and its workflows")
    def delete(self, request: AuthenticatedRequest, team_id: int) -> Response:
        actions.do_delete_team(access_team(request.user, team_id, Need.OWN))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListView(APIView):
    @extend_schema(responses=MemberSerializer(many=True), summary="Members of a team")
    def get(self, request: AuthenticatedRequest, team_id: int) -> Response:
        team = access_team(request.user, team_id)
        return Response(MemberSerializer(team.memberships.select_related("user"), many=True).data)

    @extend_schema(request=AddMemberSerializer, responses={201: MemberSerializer}, summary="Add a member")
    def post(self, request: AuthenticatedRequest, team_id: int) -> Response:
        team = access_team(request.user, team_id, Need.MANAGE_MEMBERS)
        serializer = AddMemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        membership = actions.do_add_member(team, team.role, data["username"], Role(data["role"]))
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(APIView):
    @extend_schema(request=ChangeRoleSerializer, responses=MemberSerializer, summary="Change a member's role")
    def patch(self, request: AuthenticatedRequest, team_id: int, user_id: int) -> Response:
        team = access_team(request.user, team_id, Need.MANAGE_MEMBERS)
        serializer = ChangeRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = Role(serializer.validated_data["role"])
        membership = actions.do_change_role(team, request.user, team.role, user_id, role)
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None}, summary="Remove a member")
    def delete(self, request: AuthenticatedRequest, team_id: int, user_id: int) -> Response:
        team = access_team(request.user, team_id, Need.MANAGE_MEMBERS)
        actions.do_remove_member(team, request.user, team.role, user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaveView(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Leave a team")
    def post(self, request: AuthenticatedRequest, team_id: int) -> Response:
        actions.do_leave(access_team(request.user, team_id), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TransferView(APIView):
    @extend_schema(request=TransferSerializer, responses=MemberSerializer, summary="Transfer ownership")
    def post(self, request: AuthenticatedRequest, team_id: int) -> Response:
        team = access_team(request.user, team_id, Need.OWN)
        serializer = TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = actions.do_transfer_ownership(team, request.user, serializer.validated_data["user_id"])
        return Response(MemberSerializer(membership).data)


class InviteListView(APIView):
    @extend_schema(responses=InviteSerializer(many=True), summary="Pending invite links of a team")
    def get(self, request: AuthenticatedRequest, team_id: int) -> Response:
        team = access_team(request.user, team_id, Need.MANAGE_MEMBERS)
        pending = [invite for invite in team.invites.select_related("created_by") if invite.is_pending()]
        return Response(InviteSerializer(pending, many=True).data)

    @extend_schema(
        request=InviteCreateSerializer, responses={201: NewInviteSerializer}, summary="Create an invite link"
    )
    def post(self, request: AuthenticatedRequest, team_id: int) -> Response:
        team = access_team(request.user, team_id, Need.MANAGE_MEMBERS)
        serializer = InviteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invite, raw = actions.do_create_invite(
            team, request.user, team.role, Role(data["role"]), data["expires_in_hours"]
        )
        body = {
            "id": invite.pk,
            "role": invite.role,
            "token": raw,
            "url": request.build_absolute_uri(f"/invite/{raw}"),
            "expires": invite.expires,
        }
        return Response(NewInviteSerializer(body).data, status=status.HTTP_201_CREATED)


class InviteDetailView(APIView):
    @extend_schema(responses={204: None}, summary="Revoke an invite link")
    def delete(self, request: AuthenticatedRequest, team_id: int, invite_id: int) -> Response:
        team = access_team(request.user, team_id, Need.MANAGE_MEMBERS)
        actions.do_revoke_invite(team, invite_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AcceptInviteView(APIView):
    @extend_schema(request=None, responses=AcceptedInviteSerializer, summary="Accept an invite link")
    def post(self, request: AuthenticatedRequest, token: str) -> Response:
        membership = actions.do_accept_invite(token, request.user)
        workspace = membership.workspace
        workspace.role = Role(membership.role)
        return Response(AcceptedInviteSerializer({"workspace": workspace}).data)
