// /publishers/:slug: a publisher and the packs of it the caller may see.
import { useParams } from "react-router";
import { ApiError } from "../api/client";
import { NotFound } from "../app/not-found";
import { RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { Link } from "react-router";
import { Badge, PackCard } from "./pack-widgets";
import { packsApi } from "./packs-api";

function Publisher({ slug }: { slug: string }) {
  const state = useAsync(() => packsApi.publisher(slug), [slug]);
  if (state.status === "loading") return <Loading what={`publisher ${slug}`} />;
  if (state.status === "error") {
    if (state.error instanceof ApiError && state.error.status === 404) return <NotFound what="publisher" />;
    return <ErrorState title={`Could not load ${slug}`} error={state.error} onRetry={state.reload} />;
  }
  const p = state.data;
  return (
    <section className="fy-page fy-page-wide">
      <p>
        <Link to="/packs">← Marketplace</Link>
      </p>
      <header className="fy-page-header">
        <h1>{p.display_name || p.slug}</h1>
        <span className="fy-mono fy-muted">{p.slug}</span>
        {p.trusted && (
          <Badge tone="ok" title="Clean uploads become active without review">
            trusted
          </Badge>
        )}
        <Badge tone="muted">{p.kind === "team" ? "team publisher" : "user publisher"}</Badge>
        {p.can_manage && <Badge tone="muted">you manage it</Badge>}
      </header>
      <p className="fy-hint">
        {p.kind === "user" && p.user
          ? `Published by ${p.user.username}. `
          : "Published by a team: its owner and admins manage it. "}
        Since {new Date(p.created).toLocaleDateString()}.
      </p>
      {p.packs.length ? (
        <ul className="fy-pack-grid">
          {p.packs.map((pack) => (
            <PackCard key={pack.name} pack={pack} />
          ))}
        </ul>
      ) : (
        <div className="fy-empty-state">
          <h2>No packs to show</h2>
          <p>{p.can_manage ? "Upload your first pack." : "This publisher has no packs you may see yet."}</p>
          {p.can_manage && (
            <Link className="fy-button" to="/packs/upload">
              Publish a pack
            </Link>
          )}
        </div>
      )}
    </section>
  );
}

export function PublisherPage() {
  const { slug = "" } = useParams();
  return <RequireSignIn>{() => <Publisher slug={slug} />}</RequireSignIn>;
}
