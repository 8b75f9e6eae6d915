// The parts of ECharts the wall uses, registered once (keeps the bundle small).
import * as echarts from 'echarts/core';
import { BarChart, EffectScatterChart, GaugeChart, LinesChart, MapChart, ScatterChart } from 'echarts/charts';
import { GeoComponent, GridComponent, VisualMapComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import maps from 'virtual:region-maps';

echarts.use([
  BarChart,
  EffectScatterChart,
  GaugeChart,
  LinesChart,
  MapChart,
  ScatterChart,
  GeoComponent,
  GridComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

// Chromium keeps a text-shaping cache per canvas and purges it only when that canvas paints
// a frame. zrender measures label text on a canvas that never paints, so every distinct
// string a wall ever measured (values change every second) stayed in memory, tens of MB
// after a few hours. Summing per-character widths bounds that cache by the characters on
// screen; kerning is ignored, which only moves a label by a fraction of a pixel.
const measurer = document.createElement('canvas').getContext('2d');
const charWidths = new Map(); // font -> Map(char -> px)

function measureText(text, font) {
  const key = font || '12px sans-serif';
  let widths = charWidths.get(key);
  if (widths === undefined) {
    widths = new Map();
    charWidths.set(key, widths);
  }
  let width = 0;
  for (const ch of String(text ?? '')) {
    let w = widths.get(ch);
    if (w === undefined) {
      measurer.font = key;
      w = measurer.measureText(ch).width;
      widths.set(ch, w);
    }
    width += w;
  }
  return { width };
}

echarts.setPlatformAPI({ measureText });

export { echarts };

// Registers the outline the server's area names (web/frontend/maps.mjs, bundled at build
// time) and returns its name, for the geo component.
export function registerRegionMap(name) {
  const geo = maps[name];
  if (!geo) throw new Error(`this page has no map named "${name}"; rebuild it (web/assets.py)`);
  if (!echarts.getMap(name)) echarts.registerMap(name, geo);
  return name;
}

// The page's font list, for canvas text: its bundled Arabic font first (style.css), so chart
// labels write Arabic with it too on a wall that lacks the font.
export function fontFamily() {
  return getComputedStyle(document.documentElement).fontFamily || 'sans-serif';
}

// Sizes in chart options are pixels; the page scales by its root font size.
export function rem() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

export const COLORS = {
  text: '#e6f1ff',
  muted: '#8aa4c8',
  accent: '#36d6ff',
  grid: 'rgba(138, 164, 200, 0.18)',
  bars: ['#36d6ff', '#4f8bff', '#7b6bff', '#b05cff', '#37e39a', '#ffd166', '#ff9f43', '#ff6b6b', '#2ec4b6', '#c0d6ff'],
};
