// Numbers for a wall: few digits, big units. Chinese uses 万 (1e4) and 亿 (1e8); English
// uses thousands separators and K/M/B. Each formatter returns [number text, unit text] so
// the figure and its unit can be styled apart.

const zhInt = new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 0 });
const enInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function fixed(v, digits, lang) {
  return new Intl.NumberFormat(lang === 'en' ? 'en-US' : 'zh-CN', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(v);
}

function zhScaled(v, unit) {
  const a = Math.abs(v);
  if (a >= 1e8) return [fixed(v / 1e8, 2, 'zh'), `亿${unit}`];
  if (a >= 1e4) return [fixed(v / 1e4, a >= 1e6 ? 0 : 1, 'zh'), `万${unit}`];
  return [zhInt.format(v), unit];
}

function enScaled(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return [fixed(v / 1e9, 2, 'en'), 'B'];
  if (a >= 1e6) return [fixed(v / 1e6, a >= 1e8 ? 0 : 1, 'en'), 'M'];
  if (a >= 1e4) return [fixed(v / 1e3, 0, 'en'), 'K'];
  return [enInt.format(v), ''];
}

export function formatValue(v, unit, lang) {
  if (v === null || v === undefined || !Number.isFinite(v)) return ['—', ''];
  const zh = lang !== 'en';
  switch (unit) {
    case 'CNY': {
      if (zh) return zhScaled(v, '元');
      const [n, u] = enScaled(v);
      return [`¥${n}`, u];
    }
    case 'ratio':
      return [fixed(v * 100, 1, lang), '%'];
    case 'MW':
      return [fixed(v, v >= 100 ? 0 : 1, lang), 'MW'];
    case 't': {
      if (zh) return zhScaled(v, '吨');
      const [n, u] = enScaled(v);
      return [n, u ? `${u} t` : 't'];
    }
    case 'min':
      return [fixed(v, 0, lang), zh ? '分钟' : 'min'];
    default: // counts
      if (zh) return Math.abs(v) >= 1e5 ? zhScaled(v, '') : [zhInt.format(Math.round(v)), ''];
      return Math.abs(v) >= 1e6 ? enScaled(v) : [enInt.format(Math.round(v)), ''];
  }
}

export function formatText(v, unit, lang) {
  const [n, u] = formatValue(v, unit, lang);
  if (!u) return n;
  return lang === 'en' && u !== '%' && unit !== 'CNY' ? `${n} ${u}` : `${n}${u}`;
}

// Axis ticks: compact, unit-free.
export function formatAxis(v, lang) {
  if (lang === 'en') {
    const [n, u] = enScaled(v);
    return `${n}${u}`;
  }
  const [n, u] = zhScaled(v, '');
  return `${n}${u}`;
}
