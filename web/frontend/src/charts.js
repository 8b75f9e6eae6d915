// The parts of ECharts the wall uses, registered once (keeps the bundle small).
import * as echarts from 'echarts/core';
import { BarChart, EffectScatterChart, GaugeChart, LinesChart, MapChart, ScatterChart } from 'echarts/charts';
import { GeoComponent, GridComponent, VisualMapComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import guizhou from 'virtual:guizhou-geo';

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
echarts.registerMap('guizhou', guizhou);

export { echarts, guizhou };

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
