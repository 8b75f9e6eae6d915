// The region outlines the page can register, as plain GeoJSON for ECharts' registerMap
// (pure functions; build.mjs reads the files and bundles the results).
//
// Every feature is named by its region code (properties.name), so the page matches map
// areas to the pack's regions by code in any language, and a build whose outlines do not
// match the pack's codes one for one fails instead of drawing a wall with a hole in it.
import { feature } from 'topojson-client';

function decodeRing(encoded, offsets, scale) {
  // ECharts 4 encoding: pairs of UTF-16 code units, zig-zag and delta coded, quantised.
  const ring = [];
  let x = offsets[0];
  let y = offsets[1];
  for (let i = 0; i < encoded.length; i += 2) {
    let dx = encoded.charCodeAt(i) - 64;
    let dy = encoded.charCodeAt(i + 1) - 64;
    dx = (dx >> 1) ^ -(dx & 1);
    dy = (dy >> 1) ^ -(dy & 1);
    x += dx;
    y += dy;
    ring.push([Math.round((x / scale) * 1e4) / 1e4, Math.round((y / scale) * 1e4) / 1e4]);
  }
  return ring;
}

// ECharts 4's compressed map JSON (echarts@4.9.0's province maps) to plain GeoJSON.
export function decodeGeo(json) {
  if (!json.UTF8Encoding) return json;
  const scale = json.UTF8Scale ?? 1024;
  const features = json.features.map((f) => {
    const g = f.geometry;
    let coordinates;
    if (g.type === 'Polygon') {
      coordinates = g.coordinates.map((ring, i) => decodeRing(ring, g.encodeOffsets[i], scale));
    } else if (g.type === 'MultiPolygon') {
      coordinates = g.coordinates.map((poly, i) =>
        poly.map((ring, j) => decodeRing(ring, g.encodeOffsets[i][j], scale)),
      );
    } else {
      throw new Error(`unexpected geometry ${g.type} in ${f.id}`);
    }
    return {
      type: 'Feature',
      id: String(f.id),
      properties: { name: String(f.id), code: String(f.id), cp: f.properties.cp },
      geometry: { type: g.type, coordinates },
    };
  });
  return { type: 'FeatureCollection', features };
}

// Coordinates rounded to `digits` decimals (3: about 100 m, finer than a wall's pixel),
// dropping the points that rounding makes repeat; a ring keeps at least four points.
function roundRing(ring, digits) {
  const f = 10 ** digits;
  const out = [];
  for (const [x, y] of ring) {
    const p = [Math.round(x * f) / f, Math.round(y * f) / f];
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  }
  return out.length >= 4 ? out : ring;
}

function roundGeometry(g, digits) {
  if (g.type === 'Polygon') return { type: g.type, coordinates: g.coordinates.map((r) => roundRing(r, digits)) };
  if (g.type === 'MultiPolygon') {
    return { type: g.type, coordinates: g.coordinates.map((p) => p.map((r) => roundRing(r, digits))) };
  }
  throw new Error(`unexpected geometry ${g.type}`);
}

// A TopoJSON object of regions to GeoJSON whose features are exactly `codes`: each
// feature's code is read by `codeOf(feature)` (the id, unless told otherwise).
export function regionsFromTopology(topology, object, codes, { codeOf = (f) => f.id, digits = 3 } = {}) {
  if (!topology?.objects?.[object]) throw new Error(`the TopoJSON has no object "${object}"`);
  const collection = feature(topology, topology.objects[object]);
  return matchRegions(collection, codes, codeOf, digits);
}

export function matchRegions(collection, codes, codeOf = (f) => f.id, digits = 3) {
  const wanted = new Set(codes);
  const seen = new Set();
  const features = [];
  for (const f of collection.features) {
    const code = String(codeOf(f) ?? '');
    if (!wanted.has(code)) throw new Error(`map feature "${code}" is not one of the pack's regions`);
    if (seen.has(code)) throw new Error(`map feature "${code}" appears twice`);
    seen.add(code);
    features.push({
      type: 'Feature',
      id: code,
      properties: { name: code, code },
      geometry: roundGeometry(f.geometry, digits),
    });
  }
  const missing = [...wanted].filter((c) => !seen.has(c));
  if (missing.length) throw new Error(`the map has no outline for ${missing.join(', ')}`);
  features.sort((a, b) => (a.id < b.id ? -1 : 1));
  return { type: 'FeatureCollection', features };
}

// The region codes of a pack file (pulseboard/packs/NAME.toml): the `code` of each
// [[regions]] table. Enough TOML for that one question, so the build needs no parser.
export function packRegionCodes(toml) {
  const codes = [];
  let inRegion = false;
  for (const raw of toml.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line.startsWith('[')) inRegion = line === '[[regions]]';
    const m = inRegion && line.match(/^code\s*=\s*"([^"]+)"$/);
    if (m) codes.push(m[1]);
  }
  return codes;
}
