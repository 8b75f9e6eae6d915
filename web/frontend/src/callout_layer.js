// Drawing the call-outs (the view from callouts.js): a pulsing outline on the prefecture or
// the corridor's line over the map, a numbered sentence list in the map's corner, and a
// numbered marker on the KPI tile, bar or corridor row of that (name, key). Only moves
// DOM: which call-outs, where and in what words is decided in callouts.js / callout_text.js.
import maps from 'virtual:region-maps';
import { el, setText, svg } from './dom.js';

const MARKED = '[data-callout]';

// The DOM node of a call-out's tile or bar, if the wall shows one (else null).
function markerTarget(place) {
  if (place.tile) return document.querySelector(`.tile[data-kpi="${CSS.escape(place.tile)}"]`);
  if (!place.bar) return null;
  const panel = document.querySelector(`[data-panel="${CSS.escape(place.bar.panel)}"]`);
  if (!panel) return null;
  const code = CSS.escape(place.bar.code);
  const row = panel.querySelector(`.bar-row[data-code="${code}"]:not([hidden]), li[data-key="${code}"]:not([hidden])`);
  return row;
}

function ringPath(ring, project) {
  const pts = ring.map((c) => project(c)).filter((p) => p && Number.isFinite(p[0]));
  if (pts.length < 3) return '';
  return `M${pts.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join('L')}Z`;
}

function featurePath(feature, project) {
  const g = feature.geometry;
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  return polygons.flatMap((poly) => poly.map((ring) => ringPath(ring, project))).join('');
}

export class CalloutLayer {
  // mapName: the outline the map draws (the area's, named by the snapshot's metadata); its
  // features are keyed by region code.
  constructor(mapPanel, mapDom, mapName) {
    this.mapDom = mapDom;
    this.features = new Map((maps[mapName]?.features ?? []).map((f) => [String(f.id), f]));
    this.overlay = svg('svg', { class: 'callout-map' });
    this.list = el('ol', 'callout-list');
    this.list.dataset.callouts = '0';
    mapPanel.append(this.overlay, this.list);
    this.signature = null;
  }

  // view: calloutView(...); coord(code) -> [lon, lat] | null; project([lon, lat]) -> [x, y].
  update(view, coord, project) {
    this._sentences(view);
    this._markers(view);
    this._map(view, coord, project);
  }

  // The map is redrawn only when something it shows changed (or after a resize).
  invalidate() {
    this.signature = null;
  }

  _sentences(view) {
    const rows = [...this.list.children];
    view.forEach((c, i) => {
      let li = rows[i];
      if (!li) {
        li = el('li', 'callout');
        li.append(el('span', 'rank'), el('span', 'text'));
        this.list.append(li);
      }
      li.hidden = false;
      li.dataset.name = c.name;
      li.dataset.key = c.key;
      li.dataset.dir = typeof c.value === 'number' && c.value < c.expected ? 'below' : 'above';
      setText(li.children[0], String(i + 1));
      setText(li.children[1], c.text);
    });
    for (let i = view.length; i < rows.length; i += 1) rows[i].hidden = true;
    this.list.hidden = view.length === 0;
    this.list.dataset.callouts = String(view.length);
  }

  _markers(view) {
    const wanted = new Map();
    view.forEach((c, i) => {
      const node = markerTarget(c.place);
      if (node && !wanted.has(node)) wanted.set(node, String(i + 1));
    });
    for (const node of document.querySelectorAll(MARKED)) {
      if (!wanted.has(node)) delete node.dataset.callout;
    }
    for (const [node, rank] of wanted) if (node.dataset.callout !== rank) node.dataset.callout = rank;
  }

  _map(view, coord, project) {
    const box = this.mapDom.getBoundingClientRect();
    const parent = this.overlay.parentElement.getBoundingClientRect();
    const signature = JSON.stringify([view.map((c) => [c.place.region, c.place.corridor]), box.width, box.height]);
    if (signature === this.signature) return;
    this.signature = signature;
    const o = this.overlay;
    o.setAttribute('width', String(box.width));
    o.setAttribute('height', String(box.height));
    o.style.left = `${box.left - parent.left}px`;
    o.style.top = `${box.top - parent.top}px`;
    o.replaceChildren();
    view.forEach((c, i) => {
      const rank = String(i + 1);
      if (c.place.region) {
        const f = this.features.get(c.place.region);
        const d = f ? featurePath(f, project) : '';
        if (d) o.append(svg('path', { class: 'callout-outline', d, 'data-code': c.place.region, 'data-rank': rank }));
        const seat = coord(c.place.region);
        // Up and left of the seat, so the seat's dot and its label stay readable.
        if (seat) {
          const [x, y] = project(seat);
          this._badge([x - 14, y - 14], rank);
        }
      }
      if (c.place.corridor) {
        const [a, b] = c.place.corridor.map((code) => coord(code));
        if (a && b) {
          const [p, q] = [project(a), project(b)];
          const attrs = { class: 'callout-route', x1: p[0], y1: p[1], x2: q[0], y2: q[1] };
          o.append(svg('line', { ...attrs, 'data-key': c.key, 'data-rank': rank }));
          this._badge([(p[0] + q[0]) / 2, (p[1] + q[1]) / 2], rank);
        }
      }
    });
  }

  _badge([x, y], rank) {
    const g = svg('g', { class: 'callout-badge', transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` });
    g.append(svg('circle', { r: '11' }));
    const t = svg('text', { 'text-anchor': 'middle', dy: '0.35em' });
    t.textContent = rank;
    g.append(t);
    this.overlay.append(g);
  }
}
