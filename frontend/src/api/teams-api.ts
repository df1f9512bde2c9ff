// Accounts endpoints the product pages use (docs/api.md "Accounts", "Workspaces and teams"): API tokens, teams,
// members and invite links. Kept apart from endpoints.ts (shared with the editor and runs work).
import { z } from "zod";
import { apiRequest } from "./client";
import { listOf, roleSchema, teamMemberSchema, tokenSchema, workspaceSchema } from "./schemas";

export const pendingInviteSchema = z.object({
  id: z.number(),
  role: roleSchema,
  created: z.string(),
  created_by: z.object({ id: z.number(), username: z.string() }).nullish(),
  expires: z.string(),
});
export type PendingInvite = z.infer<typeof pendingInviteSchema>;
export const newInviteSchema = pendingInviteSchema.pick({ id: true, role: true, expires: true }).extend({
  token: z.string(),
  url: z.string(),
});
export type NewInvite = z.infer<typeof newInviteSchema>;
export type TeamMember = z.infer<typeof teamMemberSchema>;
export const acceptedInviteSchema = z.object({ workspace: workspaceSchema });

const none = z.unknown();

export const tokens = {
  list: () => apiRequest("/api/tokens", listOf(tokenSchema)),
  create: (name: string) => apiRequest("/api/tokens", tokenSchema, { method: "POST", body: { name } }),
  revoke: (id: number) => apiRequest(`/api/tokens/${id}`, none, { method: "DELETE" }),
};

export const teams = {
  create: (name: string) => apiRequest("/api/teams", workspaceSchema, { method: "POST", body: { name } }),
  get: (id: number) => apiRequest(`/api/teams/${id}`, workspaceSchema),
  rename: (id: number, name: string) =>
    apiRequest(`/api/teams/${id}`, workspaceSchema, { method: "PATCH", body: { name } }),
  remove: (id: number) => apiRequest(`/api/teams/${id}`, none, { method: "DELETE" }),
  members: (id: number) => apiRequest(`/api/teams/${id}/members`, listOf(teamMemberSchema)),
  addMember: (id: number, username: string, role: string) =>
    apiRequest(`/api/teams/${id}/members`, teamMemberSchema, { method: "POST", body: { username, role } }),
  changeRole: (id: number, userId: number, role: string) =>
    apiRequest(`/api/teams/${id}/members/${userId}`, teamMemberSchema, { method: "PATCH", body: { role } }),
  removeMember: (id: number, userId: number) =>
    apiRequest(`/api/teams/${id}/members/${userId}`, none, { method: "DELETE" }),
  leave: (id: number) => apiRequest(`/api/teams/${id}/leave`, none, { method: "POST" }),
  transfer: (id: number, userId: number) =>
    apiRequest(`/api/teams/${id}/transfer`, teamMemberSchema, { method: "POST", body: { user_id: userId } }),
  invites: (id: number) => apiRequest(`/api/teams/${id}/invites`, listOf(pendingInviteSchema)),
  createInvite: (id: number, role: string, expiresInHours: number) =>
    apiRequest(`/api/teams/${id}/invites`, newInviteSchema, {
      method: "POST",
      body: { role, expires_in_hours: expiresInHours },
    }),
  revokeInvite: (id: number, inviteId: number) =>
    apiRequest(`/api/teams/${id}/invites/${inviteId}`, none, { method: "DELETE" }),
  acceptInvite: (token: string) =>
    apiRequest(`/api/invites/${encodeURIComponent(token)}/accept`, acceptedInviteSchema, { method: "POST" }),
};
