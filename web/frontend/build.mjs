// Builds the wall page into ../static: one bundled script, one stylesheet, index.html.
//
// The maps are bundled as one module (virtual:region-maps), GeoJSON by map name, so the
// page renders with current ECharts and makes no request for a map (see maps.mjs):
// - guizhou: echarts@4.9.0 (installed as the alias "echarts-geo"), the last release that
//   shipped province maps, in ECharts' compressed coordinate encoding, decoded here;
// - morocco: the 12 regions of the npm package morocco-map (TopoJSON, ODbL-1.0; the wall
//   and the README carry its attribution), converted here with topojson-client.
import { build } from 'esbuild';
import { access, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeGeo, matchRegions, packRegionCodes, regionsFromTopology } from './maps.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'static');
const require = createRequire(import.meta.url);

// The outlines the page can show, each matched one for one to its pack's region codes.
const packsDir = join(here, '..', '..', 'pulseboard', 'packs');
const codesOf = async (pack) => packRegionCodes(await readFile(join(packsDir, `${pack}.toml`), 'utf8'));
const readJson = async (path) => JSON.parse(await readFile(require.resolve(path), 'utf8'));
const maps = {
  guizhou: matchRegions(
    decodeGeo(await readJson('echarts-geo/map/json/province/guizhou.json')),
    await codesOf('guizhou'),
    (f) => f.id,
    4,
  ),
  morocco: regionsFromTopology(
    await readJson('morocco-map/data/regions.json'),
    'regions',
    await codesOf('morocco'),
    // 0.01° (about 1 km): Morocco spans 20° of a wall's 1,000-odd pixels; finer only adds
    // bytes (160 kB instead of 520 kB at 0.001°).
    { digits: 2 },
  ),
};

const mapsPlugin = {
  name: 'region-maps',
  setup(b) {
    b.onResolve({ filter: /^virtual:region-maps$/ }, () => ({ path: 'maps', namespace: 'geo' }));
    b.onLoad({ filter: /.*/, namespace: 'geo' }, () => ({
      contents: JSON.stringify(maps),
      loader: 'json',
    }));
  },
};

// Arabic from Debian's fonts-noto-core (SIL Open Font License 1.1), served with the page so
// a wall whose machine lacks the font still writes Arabic properly.
const FONT_DIR = '/usr/share/fonts/truetype/noto';
const FONTS = ['NotoSansArabic-Regular.ttf', 'NotoSansArabic-Bold.ttf'];
for (const f of FONTS) {
  try {
    await access(join(FONT_DIR, f));
  } catch {
    throw new Error(`${join(FONT_DIR, f)} is missing: install the Debian package fonts-noto-core (scripts/setup does)`);
  }
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: join(out, 'app.js'),
  plugins: [mapsPlugin],
  legalComments: 'eof',
  logLevel: 'warning',
});
await build({
  entryPoints: [join(here, 'src', 'style.css')],
  bundle: true,
  minify: true,
  outfile: join(out, 'style.css'),
  external: ['/fonts/*'], // copied below, served beside the page
  logLevel: 'warning',
});
await copyFile(join(here, 'src', 'index.html'), join(out, 'index.html'));
await mkdir(join(out, 'fonts'));
for (const f of FONTS) await copyFile(join(FONT_DIR, f), join(out, 'fonts', f));
await writeFile(join(out, '.build-stamp'), new Date().toISOString() + '\n');
console.log(`built the wall page into ${out}`);
