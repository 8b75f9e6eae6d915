// The map outlines matched to a pack's region codes at build time (maps.mjs), on the real
// morocco-map data and on hand-made topologies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { matchRegions, packRegionCodes, regionsFromTopology } from '../maps.mjs';

const require = createRequire(import.meta.url);
const packFile = (name) => readFileSync(new URL(`../../../pulseboard/packs/${name}.toml`, import.meta.url), 'utf8');
const MA = Array.from({ length: 12 }, (_, i) => `MA-${String(i + 1).padStart(2, '0')}`);

test('the region codes of a pack file', () => {
  assert.deepEqual(packRegionCodes(packFile('morocco')), MA);
  const toml = '[province]\ncode = "X"\n\n[[regions]]\ncode = "A" # first\n\n[[exits]]\ncode = "E"\n\n[[regions]]\ncode = "B"\n';
  assert.deepEqual(packRegionCodes(toml), ['A', 'B']);
});

test('morocco-map: 12 regions, one outline per ISO 3166-2:MA code', () => {
  const topology = JSON.parse(readFileSync(require.resolve('morocco-map/data/regions.json'), 'utf8'));
  const geo = regionsFromTopology(topology, 'regions', MA, { digits: 2 });
  assert.deepEqual(geo.features.map((f) => f.id), MA);
  for (const f of geo.features) {
    assert.equal(f.properties.name, f.id); // the page matches areas by code
    assert.ok(['Polygon', 'MultiPolygon'].includes(f.geometry.type));
  }
  // Casablanca-Settat lies around Casablanca (-7.59, 33.57): its outline's box holds it.
  const ring = geo.features[5].geometry.coordinates.flat(Infinity);
  const xs = [];
  const ys = [];
  for (let i = 0; i < ring.length; i += 2) {
    xs.push(ring[i]);
    ys.push(ring[i + 1]);
  }
  assert.ok(Math.min(...xs) < -7.59 && Math.max(...xs) > -7.59);
  assert.ok(Math.min(...ys) < 33.57 && Math.max(...ys) > 33.57);
});

const square = (id) => ({
  type: 'Feature',
  id,
  properties: {},
  geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]] },
});
const collection = (...ids) => ({ type: 'FeatureCollection', features: ids.map(square) });

test('outlines that do not match the pack one for one fail the build, saying which', () => {
  assert.throws(() => matchRegions(collection('A'), ['A', 'B']), /no outline for B/);
  assert.throws(() => matchRegions(collection('A', 'B', 'C'), ['A', 'B']), /"C" is not one of the pack's regions/);
  assert.throws(() => matchRegions(collection('A', 'A', 'B'), ['A', 'B']), /"A" appears twice/);
  assert.deepEqual(matchRegions(collection('B', 'A'), ['A', 'B']).features.map((f) => f.id), ['A', 'B']);
});

test('a TopoJSON topology is converted to GeoJSON polygons', () => {
  const topology = {
    type: 'Topology',
    objects: {
      regions: { type: 'GeometryCollection', geometries: [{ type: 'Polygon', id: 'A', arcs: [[0]] }] },
    },
    arcs: [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
  };
  const geo = regionsFromTopology(topology, 'regions', ['A']);
  assert.deepEqual(geo.features[0].geometry, {
    type: 'Polygon',
    coordinates: [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
  });
  assert.throws(() => regionsFromTopology(topology, 'provinces', ['A']), /no object "provinces"/);
});
