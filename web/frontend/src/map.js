// The centre of the wall: the area's regions shaded by freight value, with the busiest
// corridors as animated flows, including those that leave the area. The outline is the one
// the area names (s.mapName, bundled at build time); its features are named by region code.
import { COLORS, echarts, fontFamily, registerRegionMap, rem } from './charts.js';
import { el } from './dom.js';
import { formatAxis, formatText } from './format.js';
import { corridors } from './rankings.js';

const SHADE = 'freight_value_1h';
const FLOWS = 'corridor_shipments_15m';
const TOP_FLOWS = 14;

export class RegionMap {
  constructor(dom, s, lang) {
    this.dom = dom;
    this.s = s;
    this.lang = lang;
    this.mapName = registerRegionMap(s.mapName);
    // The outline's licence may ask for credit (ODbL for morocco-map): under the map.
    if (s.attribution) dom.after(el('div', 'map-credit', s.attribution));
    this.chart = echarts.init(dom, null, { renderer: 'canvas' });
    this.places = null;
    this.styled = false;
    this.flowSignature = '';
  }

  resize() {
    this.chart.resize();
    this.styled = false;
    this.flowSignature = '';
  }

  _base(r) {
    return {
      backgroundColor: 'transparent',
      textStyle: { fontFamily: fontFamily() },
      animationDurationUpdate: 800,
      geo: {
        map: this.mapName,
        roam: false,
        silent: true,
        layoutCenter: ['52%', '53%'],
        layoutSize: '86%',
        itemStyle: { areaColor: '#0d2a4f', borderColor: '#6cc4ff', borderWidth: r * 0.1 },
        emphasis: { disabled: true },
        label: { show: false },
      },
      visualMap: {
        type: 'continuous',
        seriesIndex: 0,
        min: 0,
        max: 1,
        calculable: false,
        orient: 'vertical',
        left: r,
        bottom: r,
        itemWidth: r * 0.9,
        itemHeight: r * 9,
        text: [this.s.mapLegend, ''],
        textGap: r * 0.6,
        textStyle: { color: COLORS.muted, fontSize: r * 0.95 },
        formatter: (v) => formatAxis(v, this.lang),
        inRange: { color: ['#0b2d5c', '#1262a8', '#1aa6d8', '#62e3e0', '#ffe27a'] },
      },
      series: [
        { id: 'shade', type: 'map', geoIndex: 0, data: [] },
        {
          id: 'flows',
          type: 'lines',
          coordinateSystem: 'geo',
          zlevel: 1,
          // No trail: trails are drawn on a motion-blur layer that is never fully
          // cleared, and every resize or relayout would leave ghost flows behind.
          effect: {
            show: true,
            period: 3.2,
            trailLength: 0,
            symbol: 'arrow',
            symbolSize: r * 0.7,
            color: '#e6fbff',
          },
          lineStyle: { color: COLORS.accent, opacity: 0.6, curveness: 0.22 },
          data: [],
        },
        {
          id: 'cities',
          type: 'effectScatter',
          coordinateSystem: 'geo',
          zlevel: 2,
          rippleEffect: { brushType: 'stroke', scale: 3, period: 3 },
          itemStyle: { color: '#ffe27a' },
          label: {
            show: true,
            position: 'right',
            distance: r * 0.4,
            color: COLORS.text,
            fontSize: r * 1.05,
            fontWeight: 600,
            textBorderColor: 'rgba(5, 11, 24, 0.85)',
            textBorderWidth: r * 0.2,
            formatter: (p) => `${p.name}\n${p.data.label}`,
            lineHeight: r * 1.3,
          },
          data: [],
        },
        {
          id: 'exits',
          type: 'scatter',
          coordinateSystem: 'geo',
          zlevel: 2,
          symbol: 'diamond',
          symbolSize: r * 0.8,
          itemStyle: { color: '#b7a6ff' },
          label: {
            show: true,
            position: 'right',
            color: '#cfc6ff',
            fontSize: r * 0.95,
            formatter: (p) => p.name,
          },
          data: [],
        },
      ],
    };
  }

  // Screen position (px in the chart) of [lon, lat]: where the call-outs are drawn.
  project(lonlat) {
    return this.chart.convertToPixel('geo', lonlat);
  }

  update(store, places) {
    const r = rem();
    if (!this.styled) {
      this.chart.setOption(this._base(r), { notMerge: true });
      this.styled = true;
    }
    if (this.placesSeen !== places) {
      // How many of the area's regions have an outline on this map, for whoever checks
      // the wall (all of them, or the build would have failed; see maps.mjs).
      this.placesSeen = places;
      const outlines = new Set(echarts.getMap(this.mapName).geoJSON.features.map((f) => f.properties.name));
      this.dom.dataset.map = this.mapName;
      this.dom.dataset.regionsMapped = String(places.regions.filter((p) => outlines.has(p.code)).length);
    }
    const shade = store.table(SHADE);
    const perMinute = store.table('shipments_1m');
    let max = 1;
    const regions = places.regions.map((p) => {
      const v = shade.get(p.code)?.v ?? null;
      if (v !== null && v > max) max = v;
      return { name: p.code, value: v };
    });
    const cities = places.regions.map((p) => {
      const v = shade.get(p.code)?.v;
      const n = perMinute.get(p.code)?.v ?? 0;
      return {
        name: places.name(p.code),
        value: [p.lon, p.lat, n],
        label: v === undefined ? '' : formatText(v, this.s.currency, this.lang),
        symbolSize: r * (0.5 + Math.min(1.1, Math.sqrt(n) / 9)),
      };
    });
    // Flows between two places only: a prefecture's own deliveries would be a line of length 0.
    const flows = corridors(store.table(FLOWS), TOP_FLOWS).top;
    const busiest = flows.length ? flows[0].v : 1;
    const lines = [];
    const exitsUsed = new Set();
    for (const { key, from, to, v: count } of flows) {
      const a = places.coord(from);
      const b = places.coord(to);
      if (!a || !b) continue;
      if (places.isExit(to)) exitsUsed.add(to);
      const level = Math.min(3, Math.floor((4 * count) / (busiest + 1)));
      lines.push({
        key,
        level,
        coords: [a, b],
        value: count,
        lineStyle: { width: r * (0.12 + 0.12 * level) },
      });
    }
    const exits = places.exits.map((p) => ({
      name: places.name(p.code),
      value: [p.lon, p.lat],
      itemStyle: { opacity: exitsUsed.has(p.code) ? 1 : 0.45 },
    }));
    // Redrawing the flows restarts their animated trails, so do it only when the set
    // of corridors or their width class changes, not on every count.
    const signature = lines.map((l) => `${l.key}:${l.level}`).join(',');
    const series = [
      { id: 'shade', data: regions },
      { id: 'cities', data: cities },
      { id: 'exits', data: exits },
    ];
    if (signature !== this.flowSignature) {
      this.flowSignature = signature;
      series.push({ id: 'flows', data: lines });
    }
    this.chart.setOption({ visualMap: { max }, series });
  }
}
