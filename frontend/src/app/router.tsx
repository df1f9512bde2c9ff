import { createBrowserRouter, RouterProvider } from "react-router";
import { LoginPage, SignupPage } from "../auth/auth-pages";
import { EditorPage } from "../workflows/editor-page";
import { InvitePage } from "../teams/invite-page";
import { TeamPage } from "../teams/team-page";
import { TokensPage } from "../tokens/tokens-page";
import { HomePage } from "../workflows/home-page";
import { ApprovalsPage } from "../approvals/pending-approvals";
import { RunDetailPage } from "../runs/run-detail-page";
import { RunHistoryPage } from "../runs/run-history-page";
import { PublicPage } from "../workflows/public-page";
import { MarketplacePage } from "../packs/marketplace-page";
import { PackPage } from "../packs/pack-page";
import { PublisherPage } from "../packs/publisher-page";
import { ReviewPage } from "../packs/review-page";
import { UploadPage } from "../packs/upload-page";
import { WorkersPage } from "../workers/workers-page";
import { ModelsPage } from "../models/models-page";
import { AppPage } from "../apps/app-page";
import { AppsListPage } from "../apps/apps-list-page";
import { AppShell } from "./app-shell";
import { NotFound } from "./not-found";
import { SessionProvider } from "./session";

const router = createBrowserRouter([
  {
    element: <AppShell />,
    children: [
      { path: "/", element: <HomePage /> },
      { path: "/login", element: <LoginPage /> },
      { path: "/signup", element: <SignupPage /> },
      { path: "/workflows/new", element: <EditorPage /> },
      { path: "/workflows/:id", element: <EditorPage /> },
      { path: "/runs", element: <RunHistoryPage /> },
      { path: "/runs/:id", element: <RunDetailPage /> },
      { path: "/approvals", element: <ApprovalsPage /> },
      { path: "/teams/:id", element: <TeamPage /> },
      { path: "/invite/:token", element: <InvitePage /> },
      { path: "/settings/tokens", element: <TokensPage /> },
      { path: "/p/:token", element: <PublicPage /> },
      { path: "/packs", element: <MarketplacePage /> },
      { path: "/packs/upload", element: <UploadPage /> },
      { path: "/packs/:name", element: <PackPage /> },
      { path: "/publishers/:slug", element: <PublisherPage /> },
      { path: "/packs/review", element: <ReviewPage /> }, // not /admin/...: Django admin owns that prefix
      { path: "/workers", element: <WorkersPage /> },
      { path: "/models", element: <ModelsPage /> },
      { path: "/apps", element: <AppsListPage /> },
      { path: "/apps/:slug", element: <AppPage /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

export function App() {
  return (
    <SessionProvider>
      <RouterProvider router={router} />
    </SessionProvider>
  );
}
