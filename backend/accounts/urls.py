from django.urls import path

from backend.accounts import views

urlpatterns = [
    path("auth/csrf", views.CsrfView.as_view(), name="auth-csrf"),
    path("auth/signup", views.SignupView.as_view(), name="auth-signup"),
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", views.MeView.as_view(), name="auth-me"),
    path("tokens", views.TokenListView.as_view(), name="tokens"),
    path("tokens/<int:token_id>", views.TokenDetailView.as_view(), name="token-detail"),
    path("workspaces", views.WorkspaceListView.as_view(), name="workspaces"),
    path("teams", views.TeamListView.as_view(), name="teams"),
    path("teams/<int:team_id>", views.TeamDetailView.as_view(), name="team-detail"),
    path("teams/<int:team_id>/members", views.MemberListView.as_view(), name="team-members"),
    path("teams/<int:team_id>/members/<int:user_id>", views.MemberDetailView.as_view(), name="team-member"),
    path("teams/<int:team_id>/leave", views.LeaveView.as_view(), name="team-leave"),
    path("teams/<int:team_id>/transfer", views.TransferView.as_view(), name="team-transfer"),
    path("teams/<int:team_id>/invites", views.InviteListView.as_view(), name="team-invites"),
    path("teams/<int:team_id>/invites/<int:invite_id>", views.InviteDetailView.as_view(), name="team-invite"),
    path("invites/<str:token>/accept", views.AcceptInviteView.as_view(), name="invite-accept"),
]
