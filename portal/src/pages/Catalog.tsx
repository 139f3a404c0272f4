import { useState } from 'react';
import type { CatalogItem } from '../api.ts';
import { useApi } from '../hooks.ts';
import { Link } from '../router.tsx';
import { TYPE_WORDS } from '../words.ts';
import { Problem } from '../ui.tsx';

/** The item's category: the catalog's own when it names one, else the kind of request. */
export function categoryOf(item: CatalogItem): string {
  const c = item.category;
  if (typeof c === 'string' && c) return c;
  if (c && typeof c === 'object') return c.name;
  return TYPE_WORDS[item.type] ?? 'Other';
}

export function Catalog() {
  const { data, error } = useApi<{ items: CatalogItem[] }>('/api/catalog');
  const [query, setQuery] = useState('');
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const items = (data?.items ?? []).filter((i) => {
    const text = `${i.name} ${i.description} ${categoryOf(i)}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
  const categories = [...new Set(items.map(categoryOf))].sort();
  return (
    <>
      <h1 tabIndex={-1}>Service catalog</h1>
      <search className="search">
        <label htmlFor="catalog-search">Search the catalog</label>
        <input
          id="catalog-search"
          type="search"
          value={query}
          placeholder="e.g. Visio, VPN, monitor"
          onChange={(e) => setQuery(e.target.value)}
        />
      </search>
      <Problem text={error} />
      {!data && !error && <p aria-busy="true">Loading the catalog…</p>}
      <p className="sr-only" role="status">
        {data ? `${items.length} ${items.length === 1 ? 'item' : 'items'} found` : ''}
      </p>
      {data && items.length === 0 && <p>Nothing in the catalog matches “{query}”.</p>}
      {categories.map((category) => (
        <section key={category} aria-labelledby={`cat-${category}`}>
          <h2 id={`cat-${category}`}>{category}</h2>
          <ul className="cards">
            {items
              .filter((i) => categoryOf(i) === category)
              .map((i) => (
                <li key={i.id} className="card">
                  <h3>
                    <Link href={`/catalog/${encodeURIComponent(i.id)}`}>{i.name}</Link>
                  </h3>
                  <p>{i.description}</p>
                  {!i.entitled && <p className="note">Not available to your role</p>}
                </li>
              ))}
          </ul>
        </section>
      ))}
    </>
  );
}
