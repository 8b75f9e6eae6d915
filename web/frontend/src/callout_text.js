// The sentence of a call-out, in the wall's language: "A→B 发运量 较平时低 82%",
// "A → B shipments 82% below usual". Pure: the call-out, the snapshot's metadata
// (place and sector names) and a language in, text out. The wording is data, one table per
// language, so another language is a new table (and its place names come with the metadata).
import { countryName, shortName } from './i18n.js';

export const PHRASES = {
  zh: {
    route: '{from}→{to}',
    sectorIn: '{place}{sector}',
    below: '{where} {what} 较平时低 {n}%',
    above: '{where} {what} 较平时高 {n}%',
    belowPp: '{where} {what} 较平时低 {n}个百分点',
    abovePp: '{where} {what} 较平时高 {n}个百分点',
    aboveNone: '{where} {what} 平时几乎为零',
    missing: '{where} {what} 无数据',
    what: {
      shipments_1m: '发运量',
      shipments_today: '今日发运量',
      tonnage_1h: '货运量',
      freight_value_1h: '货值',
      freight_value_today: '今日货值',
      export_value_1h: '出口额',
      export_value_by_country_1h: '出口额',
      corridor_shipments_15m: '发运量',
      active_trucks_5m: '在途车辆',
      deliveries_1h: '送达量',
      on_time_rate_1h: '准时率',
      avg_transit_min_1h: '平均运输时长',
      sector_value_1h: '产值',
      output_value_1h: '产值',
      digital_share_1h: '数字经济占比',
      dc_power_mw_5m: '数据中心负荷',
      dc_utilization_5m: '数据中心利用率',
    },
  },
  en: {
    route: '{from} → {to}',
    sectorIn: '{place} {sector}',
    below: '{where} {what} {n}% below usual',
    above: '{where} {what} {n}% above usual',
    belowPp: '{where} {what} {n} pp below usual',
    abovePp: '{where} {what} {n} pp above usual',
    aboveNone: '{where} {what} up from almost none',
    missing: '{where} {what} missing',
    what: {
      shipments_1m: 'shipments',
      shipments_today: 'shipments today',
      tonnage_1h: 'tonnage',
      freight_value_1h: 'freight value',
      freight_value_today: 'freight value today',
      export_value_1h: 'exports',
      export_value_by_country_1h: 'exports',
      corridor_shipments_15m: 'shipments',
      active_trucks_5m: 'active trucks',
      deliveries_1h: 'deliveries',
      on_time_rate_1h: 'on-time rate',
      avg_transit_min_1h: 'transit time',
      sector_value_1h: 'output',
      output_value_1h: 'output',
      digital_share_1h: 'digital share',
      dc_power_mw_5m: 'data-centre load',
      dc_utilization_5m: 'data-centre utilisation',
    },
  },
};

function phrases(lang) {
  return PHRASES[lang] ?? PHRASES.zh;
}

function fill(template, parts) {
  return template.replace(/\{(\w+)\}/g, (_, k) => String(parts[k] ?? ''));
}

// The one place call-outs read a place's name from the metadata (its shape is the region
// pack's: this is the line to change when it changes).
export function placeName(meta, code, lang) {
  const place = code === meta.province?.code ? meta.province : [...(meta.regions ?? []), ...(meta.exits ?? [])].find((p) => p.code === code);
  return place ? shortName(place, lang) : code;
}

function sectorName(meta, code, lang) {
  const sector = (meta.sectors ?? []).find((s) => s.code === code);
  return sector ? (sector.names?.[lang] ?? Object.values(sector.names ?? {})[0] ?? code) : code;
}

// Where the call-out is, in words: a place, a route, a sector (in a place), a country.
export function whereText(callout, meta, lang) {
  const p = phrases(lang);
  const { name, key } = callout;
  if (name === 'corridor_shipments_15m') {
    const [from, to] = key.split('>');
    return fill(p.route, { from: placeName(meta, from, lang), to: placeName(meta, to, lang) });
  }
  if (name === 'export_value_by_country_1h') return countryName(key, lang);
  if (name === 'sector_value_1h') {
    const [region, sector] = key.split('|');
    const s = sectorName(meta, sector, lang);
    return region === meta.province?.code ? s : fill(p.sectorIn, { place: placeName(meta, region, lang), sector: s });
  }
  return placeName(meta, key, lang);
}

// How far from usual: whole percent of the usual level, or percentage points for rates
// and shares (unit "ratio": "+2.6 %" of a 23 % share would read as 2.6 points).
export function calloutSentence(callout, meta, lang) {
  const p = phrases(lang);
  const what = p.what[callout.name] ?? meta.indicators?.[callout.name]?.[lang] ?? callout.name;
  const where = whereText(callout, meta, lang);
  const { value, expected } = callout;
  if (typeof value !== 'number') return fill(p.missing, { where, what });
  const below = value < expected;
  if (meta.indicators?.[callout.name]?.unit === 'ratio') {
    const n = Math.max(1, Math.round(Math.abs(value - expected) * 100));
    return fill(below ? p.belowPp : p.abovePp, { where, what, n });
  }
  if (Math.abs(expected) < 1e-9) return fill(p.aboveNone, { where, what });
  const n = Math.max(1, Math.round((Math.abs(value - expected) / Math.abs(expected)) * 100));
  return fill(below ? p.below : p.above, { where, what, n });
}
