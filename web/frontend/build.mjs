// Builds the wall page into ../static: one bundled script, one stylesheet, index.html.
//
// The map geometry comes from echarts@4.9.0 (installed as the alias "echarts-geo"), the
// last release that shipped province maps. Its JSON uses ECharts' compressed coordinate
// encoding; it is decoded here, at build time, into plain GeoJSON and bundled as a module,
// so the page renders with current ECharts and makes no request for the map.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'static');
const require = createRequire(import.meta.url);

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
      id: f.id,
      properties: { name: f.properties.name, code: String(f.id), cp: f.properties.cp },
      geometry: { type: g.type, coordinates },
    };
  });
  return { type: 'FeatureCollection', features };
}

const geoPath = require.resolve('echarts-geo/map/json/province/guizhou.json');
const geo = decodeGeo(JSON.parse(await readFile(geoPath, 'utf8')));
if (geo.features.length !== 9) throw new Error(`expected 9 prefectures, got ${geo.features.length}`);

const geoPlugin = {
  name: 'guizhou-geo',
  setup(b) {
    b.onResolve({ filter: /^virtual:guizhou-geo$/ }, () => ({ path: 'guizhou', namespace: 'geo' }));
    b.onLoad({ filter: /.*/, namespace: 'geo' }, () => ({
      contents: JSON.stringify(geo),
      loader: 'json',
    }));
  },
};

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: join(out, 'app.js'),
  plugins: [geoPlugin],
  legalComments: 'eof',
  logLevel: 'warning',
});
await build({
  entryPoints: [join(here, 'src', 'style.css')],
  bundle: true,
  minify: true,
  outfile: join(out, 'style.css'),
  logLevel: 'warning',
});
await copyFile(join(here, 'src', 'index.html'), join(out, 'index.html'));
await writeFile(join(out, '.build-stamp'), new Date().toISOString() + '\n');
console.log(`built the wall page into ${out}`);
