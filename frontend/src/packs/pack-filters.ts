// The marketplace's search filters live in the URL (/packs?q=&category=&node_type=&publisher=), so a search can
// be shared and survives a reload. The keys are the API's own query parameters.

export interface PackFilters {
  q?: string;
  category?: string;
  nodeType?: string;
  publisher?: string;
}

const KEYS: readonly [keyof PackFilters, string][] = [
  ["q", "q"],
  ["category", "category"],
  ["nodeType", "node_type"],
  ["publisher", "publisher"],
];

/** Read the filters from the page's search params (blank values count as unset). */
export function filtersFromParams(params: URLSearchParams): PackFilters {
  const filters: PackFilters = {};
  for (const [key, param] of KEYS) {
    const value = params.get(param)?.trim();
    if (value) filters[key] = value;
  }
  return filters;
}

/** The search params for `filters`, leaving out unset ones and keeping unrelated params of `base`. */
export function filtersToParams(filters: PackFilters, base?: URLSearchParams): URLSearchParams {
  const params = new URLSearchParams(base);
  for (const [key, param] of KEYS) {
    const value = filters[key]?.trim();
    if (value) params.set(param, value);
    else params.delete(param);
  }
  return params;
}

/** Change one filter (empty clears it). */
export function withFilter(filters: PackFilters, key: keyof PackFilters, value: string): PackFilters {
  const next = { ...filters };
  if (value.trim()) next[key] = value.trim();
  else delete next[key];
  return next;
}

export function hasFilters(filters: PackFilters): boolean {
  return KEYS.some(([key]) => Boolean(filters[key]));
}

/** A sentence for the empty state: what was searched. */
export function describeFilters(filters: PackFilters): string {
  const parts: string[] = [];
  if (filters.q) parts.push(`matching “${filters.q}”`);
  if (filters.category) parts.push(`in category ${filters.category}`);
  if (filters.nodeType) parts.push(`providing node ${filters.nodeType}`);
  if (filters.publisher) parts.push(`by ${filters.publisher}`);
  return parts.join(", ");
}

/** Categories to offer in the filter: those of the packs seen, plus the current one, sorted. */
export function categoryOptions(packs: readonly { categories: readonly string[] }[], current?: string): string[] {
  const all = new Set(packs.flatMap((p) => p.categories));
  if (current) all.add(current);
  return [...all].sort((a, b) => a.localeCompare(b));
}
