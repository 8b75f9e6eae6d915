// Title, the clock in the area's time zone and the connection badge.
import { el, setText } from './dom.js';
import { locale } from './i18n.js';
import { offsetAt } from './travelurl.js';

// The clock's order of fields in each language.
const LAYOUT = {
  zh: (p) => `${p.year}年${p.month}月${p.day}日 ${p.weekday} ${p.hour}:${p.minute}:${p.second}`,
  en: (p) => `${p.weekday} ${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`,
  fr: (p) => `${p.weekday} ${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}:${p.second}`,
  ar: (p) => `${p.weekday} ${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}:${p.second}`,
};

// The clock at `ms` in `zone` (travelurl.js offsetAt: a name, or the server's table),
// named in `lang`: {text, zone}, the zone as its offset then ("UTC+1"; Casablanca's changes
// around Ramadan). The fields are the UTC fields of the shifted moment, so the browser's
// own tz data is not asked when the server's table covers the moment.
export function clockText(ms, lang, zone) {
  const offset = offsetAt(Math.floor(ms / 1000), zone);
  let format = clockFormats.get(lang);
  if (format === undefined) {
    format = clockFormat(lang);
    clockFormats.set(lang, format);
  }
  const parts = {};
  for (const { type, value } of format.formatToParts(new Date(ms + offset * 1000))) parts[type] = value;
  const h = Math.floor(Math.abs(offset) / 3600);
  const m = Math.floor((Math.abs(offset) % 3600) / 60);
  const label = `UTC${offset < 0 ? '−' : '+'}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
  return { text: (LAYOUT[lang] ?? LAYOUT.en)(parts), zone: label };
}

const clockFormats = new Map(); // lang -> Intl.DateTimeFormat

function clockFormat(lang) {
  return new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : locale(lang), {
    timeZone: 'UTC',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    weekday: lang === 'ar' ? 'long' : 'short',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
}

export class Header {
  constructor(container, s, lang) {
    this.s = s;
    this.lang = lang;
    this.root = el('header', 'head');
    const title = el('h1', '', s.title);
    const subtitle = el('div', 'subtitle', s.subtitle);
    this.subtitle = subtitle;
    this.clock = el('div', 'clock');
    // The clock reads left to right in every language (digits and their separators).
    this.clock.dir = 'ltr';
    this.clockText = el('span', 'time');
    this.zone = el('span', 'zone');
    this.clock.append(this.clockText, this.zone);
    this.badge = el('div', 'badge');
    this.badge.id = 'badge';
    this.badgeText = el('span', 'state');
    this.badgeDetail = el('span', 'detail');
    this.badge.append(this.badgeText, this.badgeDetail);
    this.root.append(title, subtitle, el('div', 'spacer'), this.clock, this.badge);
    container.append(this.root);
    this.setState('connecting', '');
  }

  // The wall shows the area's time whatever the time zone of the machine driving it.
  tick(serverNow) {
    const { text, zone } = clockText(serverNow, this.lang, this.s.zone);
    setText(this.clockText, text);
    setText(this.zone, zone);
  }

  setState(state, detail) {
    this.setBadge(state, this.s[state], detail);
  }

  // Any badge: state 'replay' says the screen shows the past (its own colour, and the clock
  // then shows the replayed moment).
  setBadge(state, text, detail) {
    if (this.badge.dataset.state !== state) this.badge.dataset.state = state;
    this.clock.classList.toggle('past', state === 'replay');
    setText(this.subtitle, state === 'replay' ? this.s.subtitleReplay : this.s.subtitle);
    setText(this.badgeText, text);
    setText(this.badgeDetail, detail);
  }
}
