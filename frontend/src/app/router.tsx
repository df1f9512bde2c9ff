import { createBrowserRouter, RouterProvider } from "react-router";
import { LoginPage, SignupPage } from "../auth/auth-pages";
import { EditorPage } from "../workflows/editor-page";
import { HomePage } from "../workflows/home-page";
import { AppShell } from "./app-shell";
import { SessionProvider } from "./session";

function NotFound() {
  return (
    <div className="fy-status">
      <h2>Page not found</h2>
      <p>
        <a href="/">Go home</a>
      </p>
    </div>
  );
}

const router = createBrowserRouter([
  {
    element: <AppShell />,
    children: [
      { path: "/", element: <HomePage /> },
      { path: "/login", element: <LoginPage /> },
      { path: "/signup", element: <SignupPage /> },
      { path: "/workflows/new", element: <EditorPage /> },
      { path: "/workflows/:id", element: <EditorPage /> },
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
