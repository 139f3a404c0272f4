import { useCallback, useEffect, useRef, useState } from 'react';
import { get, type CatalogItem } from './api.ts';

/** Names of people by user id, fetched once per id for the whole session. */
const names = new Map<string, Promise<string>>();
const known = new Map<string, string>();

export function useNames(ids: string[]): (id: string) => string {
  const [, setVersion] = useState(0);
  const key = [...new Set(ids)].sort().join(',');
  useEffect(() => {
    let live = true;
    for (const id of key ? key.split(',') : []) {
      if (known.has(id)) continue;
      if (!names.has(id))
        names.set(
          id,
          get<{ name: string }>(`/api/people/${encodeURIComponent(id)}`).then(
            (p) => p.name,
            () => id,
          ),
        );
      void names.get(id)!.then((name) => {
        known.set(id, name);
        if (live) setVersion((v) => v + 1);
      });
    }
    return () => {
      live = false;
    };
  }, [key]);
  return (id: string) => known.get(id) ?? id;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/**
 * GET a path; with `everyMs`, again at that interval while the page shows it and `keepPolling`
 * says so (the live request page polls every second until the request is final).
 */
export function useApi<T>(
  path: string | undefined,
  opts: { everyMs?: number; keepPolling?: (data: T) => boolean } = {},
): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  const keep = useRef(opts.keepPolling);
  keep.current = opts.keepPolling;
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!path) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      get<T>(path).then(
        (d) => {
          if (!live) return;
          setData(d);
          setError(undefined);
          if (opts.everyMs && (!keep.current || keep.current(d))) timer = setTimeout(load, opts.everyMs);
        },
        (err: unknown) => {
          if (!live) return;
          setError(err instanceof Error ? err.message : String(err));
          if (opts.everyMs) timer = setTimeout(load, opts.everyMs * 2);
        },
      );
    };
    load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [path, tick, opts.everyMs]);
  return { data, error, reload };
}

/** Catalog items' names by id, for pages that show requests (which carry the id only). */
export function useItemNames(): (id: string) => string {
  const { data } = useApi<{ items: CatalogItem[] }>('/api/catalog');
  return (id: string) => data?.items.find((i) => i.id === id)?.name ?? id;
}
