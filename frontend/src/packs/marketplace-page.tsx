// /packs: browse and search the node packs the caller may see. Filters live in the URL (pack-filters.ts).
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import {
  categoryOptions,
  describeFilters,
  filtersFromParams,
  filtersToParams,
  hasFilters,
  withFilter,
  type PackFilters,
} from "./pack-filters";
import { PackCard } from "./pack-widgets";
import { packsApi } from "./packs-api";
import type { User } from "../api/schemas";

function SearchForm({
  filters,
  categories,
  publishers,
  onChange,
}: {
  filters: PackFilters;
  categories: string[];
  publishers: { slug: string; display_name: string }[];
  onChange(filters: PackFilters): void;
}) {
  const [q, setQ] = useState(filters.q ?? "");
  const [nodeType, setNodeType] = useState(filters.nodeType ?? "");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onChange(withFilter(withFilter(filters, "q", q), "nodeType", nodeType));
  };
  return (
    <form className="fy-pack-search" role="search" onSubmit={submit} aria-label="Search packs">
      <input
        type="search"
        aria-label="Search"
        placeholder="Search name or description…"
        value={q}
        onChange={(e) => setQ(e.target.value)}
      />
      <select
        aria-label="Category"
        value={filters.category ?? ""}
        onChange={(e) => onChange(withFilter(filters, "category", e.target.value))}
      >
        <option value="">All categories</option>
        {categories.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
      <select
        aria-label="Publisher"
        value={filters.publisher ?? ""}
        onChange={(e) => onChange(withFilter(filters, "publisher", e.target.value))}
      >
        <option value="">All publishers</option>
        {publishers.map((p) => (
          <option key={p.slug} value={p.slug}>
            {p.display_name || p.slug}
          </option>
        ))}
      </select>
      <input
        aria-label="Node type"
        placeholder="Node type, e.g. demo.Example"
        value={nodeType}
        onChange={(e) => setNodeType(e.target.value)}
      />
      <button type="submit">Search</button>
      {hasFilters(filters) && (
        <button
          type="button"
          onClick={() => {
            setQ("");
            setNodeType("");
            onChange({});
          }}
        >
          Clear
        </button>
      )}
    </form>
  );
}

function Marketplace({ user }: { user: User }) {
  const [params, setParams] = useSearchParams();
  const filters = filtersFromParams(params);
  const key = filtersToParams(filters).toString();
  const list = useAsync(() => packsApi.list(filters), [key]);
  // Every visible pack, once: the category and publisher choices do not shrink as filters narrow the list.
  const all = useAsync(() => packsApi.list(), []);
  const known = all.status === "ready" ? all.data : [];
  const publishers = [...new Map(known.map((p) => [p.publisher.slug, p.publisher])).values()].sort((a, b) =>
    a.slug.localeCompare(b.slug),
  );
  if (filters.publisher && !publishers.some((p) => p.slug === filters.publisher)) {
    publishers.push({ slug: filters.publisher, display_name: filters.publisher, trusted: false });
  }
  const change = (next: PackFilters) => setParams(filtersToParams(next, params), { replace: false });
  return (
    <section className="fy-page fy-page-wide">
      <header className="fy-page-header">
        <h1>Marketplace</h1>
        <span className="fy-spacer" />
        <Link className="fy-button" to="/packs/upload">
          Publish a pack
        </Link>
        {user.is_site_admin && <Link to="/packs/review">Review queue</Link>}
      </header>
      <p className="fy-hint">
        Node packs add node types to a workspace. A team's owner or admin installs a pack, pinned to one version; its
        members then use its nodes.
      </p>
      <SearchForm
        key={key}
        filters={filters}
        categories={categoryOptions(known, filters.category)}
        publishers={publishers}
        onChange={change}
      />
      {list.status === "loading" && <Loading what="packs" />}
      {list.status === "error" && (
        <ErrorState title="Could not load the marketplace" error={list.error} onRetry={list.reload} />
      )}
      {list.status === "ready" &&
        (list.data.length ? (
          <>
            <p className="fy-muted" aria-live="polite">
              {list.data.length === 1 ? "1 pack" : `${list.data.length} packs`}
              {hasFilters(filters) ? ` ${describeFilters(filters)}` : ""}
            </p>
            <ul className="fy-pack-grid">
              {list.data.map((p) => (
                <PackCard key={p.name} pack={p} />
              ))}
            </ul>
          </>
        ) : hasFilters(filters) ? (
          <div className="fy-empty-state">
            <h2>No packs {describeFilters(filters)}</h2>
            <p>Try fewer words, another category, or clear the filters.</p>
            <button type="button" onClick={() => change({})}>
              Clear filters
            </button>
          </div>
        ) : (
          <div className="fy-empty-state">
            <h2>No node packs yet</h2>
            <p>Packs appear here once a site admin has approved them (or their publisher is trusted).</p>
            <Link className="fy-button" to="/packs/upload">
              Publish the first one
            </Link>
          </div>
        ))}
    </section>
  );
}

export function MarketplacePage() {
  return <RequireSignIn>{(user) => <Marketplace user={user} />}</RequireSignIn>;
}
