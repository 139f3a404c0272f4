/**
 * B5: what each request type's history costs the server, read from the server once the
 * request is fulfilled: events and bytes, against the figures recorded before the speed work
 * (bench/before.json, measured on the code of 1 December 2026).
 */
import { readFileSync } from 'node:fs';
import type { BenchContext } from './context.js';
import { historyCost, type HistoryCost } from './history.js';
import { awaitStatus, submit } from './requests.js';

export interface HistoryRow extends HistoryCost {
  type: string;
  catalogItemId: string;
  /** The recorded "before", when there is one for this type. */
  before?: { events: number; bytes: number };
  /** This run's bytes over the recorded "before" (0.5 = halved). */
  ratio: number;
}

export interface Before {
  measuredOn: string;
  histories: Record<string, { events: number; bytes: number }>;
}

export const before = JSON.parse(readFileSync(new URL('./before.json', import.meta.url), 'utf8')) as Before;

export async function historyCosts(
  ctx: BenchContext,
  samples: { standard_service: string; access: string },
): Promise<HistoryRow[]> {
  const asker = ctx.requesters()[0]!.userId;
  const { view } = await submit(ctx, asker, {
    catalogItemId: 'vpn-address',
    fields: { question: "What's the VPN server address?" },
  });
  // An information request stays open for the requester's feedback; it is answered before that.
  await awaitStatus(ctx, view.id, asker, 'fulfilled');
  const ids: [string, string, string][] = [
    ['standard_service', 'visio', samples.standard_service],
    ['access', 'financial-reporting', samples.access],
    ['information', 'vpn-address', view.id],
  ];
  const rows: HistoryRow[] = [];
  for (const [type, catalogItemId, id] of ids) {
    const cost = await historyCost(ctx.temporal, id);
    const recorded = before.histories[type];
    rows.push({
      type,
      catalogItemId,
      ...cost,
      ...(recorded ? { before: recorded } : {}),
      ratio: recorded ? cost.bytes / recorded.bytes : Number.NaN,
    });
    ctx.log(`B5 ${type} (${catalogItemId}): ${cost.events} events, ${cost.bytes} bytes`);
  }
  return rows;
}
