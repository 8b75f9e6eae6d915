// Which call-outs the wall draws, and where each one is. Pure: lists in, lists out.
//
// The server sends every active call-out (docs/push-protocol.md); the wall draws at most
// MAX_SHOWN, the most severe (|score|) first, so the screen points at what matters most and
// never turns into a list. Each is drawn where the thing is: an outline on the prefecture
// (or the corridor's line) on the map, and a marker on the tile or bar of that (name, key).
export const MAX_SHOWN = 3;
// Headline tiles (kpis.js HEADLINES): their province row is marked on the tile itself.
const TILES = new Set([
  'freight_value_today',
  'shipments_1m',
  'active_trucks_5m',
  'on_time_rate_1h',
  'export_value_1h',
  'digital_share_1h',
]);
// The bar panels and the indicator whose rows they list (by code).
const BARS = {
  freight_value_1h: 'prefectures',
  dc_power_mw_5m: 'dc',
  dc_utilization_5m: 'dc',
};

export function severity(c) {
  return Math.abs(Number(c.score) || 0);
}

// Most severe first; equal severity by name, then key (a stable order on every wall).
export function rankCallouts(callouts, max = MAX_SHOWN) {
  const valid = (callouts ?? []).filter((c) => c && typeof c.name === 'string' && typeof c.key === 'string');
  const cmp = (a, b) => severity(b) - severity(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return [...valid].sort(cmp).slice(0, max);
}

// Where a call-out is drawn: {region, corridor: [from, to] | null, tile, bar: {panel, code} | null}.
// region: a prefecture to outline on the map (null for the province or a country).
export function calloutPlace(c, regionCodes, province) {
  const isRegion = (code) => regionCodes.includes(code);
  const out = { region: null, corridor: null, tile: null, bar: null };
  if (c.name === 'corridor_shipments_15m') {
    const [from, to] = c.key.split('>');
    out.corridor = [from, to];
    out.bar = { panel: 'corridors', code: c.key };
    return out;
  }
  if (c.name === 'export_value_by_country_1h') {
    out.bar = { panel: 'exports', code: c.key };
    return out;
  }
  if (c.name === 'sector_value_1h') {
    const [region, sector] = c.key.split('|');
    if (isRegion(region)) out.region = region;
    out.bar = { panel: 'sectors', code: sector };
    return out;
  }
  if (c.key === province) {
    if (TILES.has(c.name)) out.tile = c.name;
    return out;
  }
  if (isRegion(c.key)) out.region = c.key;
  if (BARS[c.name]) out.bar = { panel: BARS[c.name], code: c.key };
  return out;
}

// The shown call-outs with their places and sentences: what every hook draws from.
export function calloutView(callouts, meta, sentence) {
  const regions = (meta?.regions ?? []).map((r) => r.code);
  return rankCallouts(callouts).map((c, rank) => ({ ...c, rank, place: calloutPlace(c, regions, meta?.province?.code), text: sentence(c) }));
}
