// Numbers for a wall: few digits, big units. Chinese uses 万 (1e4) and 亿 (1e8); English,
// French and Arabic use thousands, millions and billions (K/M/B, k/M/Md, ألف/مليون/مليار)
// with the same digits as English, so the server's rounding (web/precision.py, modelled on
// the zh and en forms) is exact in every language. Separators follow the language's locale
// (i18n.js); money is in the area's currency, its symbol from Intl.NumberFormat. Each
// formatter returns [number text, unit text] so the figure and its unit can be styled apart.
import { locale } from './i18n.js';

const SCALE_WORDS = {
  en: ['K', 'M', 'B'],
  fr: ['k', 'M', 'Md'],
  ar: ['ألف', 'مليون', 'مليار'],
};
const UNIT_WORDS = {
  zh: { t: '吨', min: '分钟', MW: 'MW' },
  en: { t: 't', min: 'min', MW: 'MW' },
  fr: { t: 't', min: 'min', MW: 'MW' },
  ar: { t: 'طن', min: 'دقيقة', MW: 'ميغاواط' },
};

const formats = new Map(); // "lang|digits" -> Intl.NumberFormat

function fixed(v, digits, lang) {
  const key = `${lang}|${digits}`;
  let f = formats.get(key);
  if (f === undefined) {
    f = new Intl.NumberFormat(locale(lang), { minimumFractionDigits: digits, maximumFractionDigits: digits });
    formats.set(key, f);
  }
  return f.format(v);
}

function integer(v, lang) {
  return fixed(Math.round(v), 0, lang);
}

const symbols = new Map(); // "lang|currency" -> symbol

// The currency's symbol as the language writes it: ¥ or MAD in English, د.م. in Arabic.
export function currencySymbol(currency, lang) {
  const key = `${lang}|${currency}`;
  let sym = symbols.get(key);
  if (sym === undefined) {
    try {
      const f = new Intl.NumberFormat(locale(lang), { style: 'currency', currency, currencyDisplay: 'narrowSymbol' });
      sym = f.formatToParts(1).find((p) => p.type === 'currency')?.value ?? currency;
    } catch {
      sym = currency;
    }
    symbols.set(key, sym);
  }
  return sym;
}

function isCurrency(unit) {
  return /^[A-Z]{3}$/.test(unit);
}

function zhScaled(v, unit) {
  const a = Math.abs(v);
  if (a >= 1e8) return [fixed(v / 1e8, 2, 'zh'), `亿${unit}`];
  if (a >= 1e4) return [fixed(v / 1e4, a >= 1e6 ? 0 : 1, 'zh'), `万${unit}`];
  return [integer(v, 'zh'), unit];
}

// Thousands, millions, billions: the digits English shows, in `lang`'s words and separators.
function scaled(v, lang) {
  const [k, m, b] = SCALE_WORDS[lang] ?? SCALE_WORDS.en;
  const a = Math.abs(v);
  if (a >= 1e9) return [fixed(v / 1e9, 2, lang), b];
  if (a >= 1e6) return [fixed(v / 1e6, a >= 1e8 ? 0 : 1, lang), m];
  if (a >= 1e4) return [fixed(v / 1e3, 0, lang), k];
  return [fixed(v, 0, lang), ''];
}

function joined(...words) {
  return words.filter(Boolean).join(' ');
}

function money(v, currency, lang) {
  if (lang === 'zh') return zhScaled(v, currency === 'CNY' ? '元' : currencySymbol(currency, lang));
  const [n, u] = scaled(v, lang);
  if (lang === 'en') {
    // ¥9.27 B (the existing English form); an alphabetic symbol is set apart: MAD 9.27 B.
    const sym = currency === 'CNY' ? '¥' : `${currency} `;
    return [`${sym}${n}`, u];
  }
  return [n, joined(u, currencySymbol(currency, lang))];
}

export function formatValue(v, unit, lang) {
  if (v === null || v === undefined || !Number.isFinite(v)) return ['—', ''];
  const words = UNIT_WORDS[lang] ?? UNIT_WORDS.en;
  if (isCurrency(unit)) return money(v, unit, lang);
  switch (unit) {
    case 'ratio':
      return [fixed(v * 100, 1, lang), '%'];
    case 'MW':
      return [fixed(v, v >= 100 ? 0 : 1, lang), words.MW];
    case 't': {
      if (lang === 'zh') return zhScaled(v, words.t);
      const [n, u] = scaled(v, lang);
      return [n, joined(u, words.t)];
    }
    case 'min':
      return [fixed(v, 0, lang), words.min];
    default: // counts
      if (lang === 'zh') return Math.abs(v) >= 1e5 ? zhScaled(v, '') : [integer(v, 'zh'), ''];
      return Math.abs(v) >= 1e6 ? scaled(v, lang) : [integer(v, lang), ''];
  }
}

export function formatText(v, unit, lang) {
  const [n, u] = formatValue(v, unit, lang);
  if (!u) return n;
  if (lang === 'zh' || u === '%') return `${n}${u}`;
  return lang === 'en' && unit === 'CNY' ? `${n}${u}` : `${n} ${u}`;
}

// Axis ticks: compact, unit-free.
export function formatAxis(v, lang) {
  const [n, u] = lang === 'zh' ? zhScaled(v, '') : scaled(v, lang);
  return lang === 'zh' || lang === 'en' ? `${n}${u}` : joined(n, u);
}
