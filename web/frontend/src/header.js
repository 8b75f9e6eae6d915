// Title, the clock in the area's time zone and the connection badge.
import { el, setText } from './dom.js';
import { locale } from './i18n.js';

// The clock's order of fields in each language.
const LAYOUT = {
  zh: (p) => `${p.year}年${p.month}月${p.day}日 ${p.weekday} ${p.hour}:${p.minute}:${p.second}`,
  en: (p) => `${p.weekday} ${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`,
  fr: (p) => `${p.weekday} ${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}:${p.second}`,
  ar: (p) => `${p.weekday} ${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}:${p.second}`,
};

// The fields of the clock at `ms` in `timeZone`, named in `lang`, with the zone's offset
// then (Africa/Casablanca's changes around Ramadan): {text, zone}.
const clockFormats = new Map(); // "lang|zone" -> Intl.DateTimeFormat

export function clockText(ms, lang, timeZone) {
  const key = `${lang}|${timeZone}`;
  let format = clockFormats.get(key);
  if (format === undefined) {
    format = clockFormat(lang, timeZone);
    clockFormats.set(key, format);
  }
  const parts = {};
  for (const { type, value } of format.formatToParts(new Date(ms))) parts[type] = value;
  return { text: (LAYOUT[lang] ?? LAYOUT.en)(parts), zone: parts.timeZoneName ?? '' };
}

function clockFormat(lang, timeZone) {
  return new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : locale(lang), {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    weekday: lang === 'ar' ? 'long' : 'short',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
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
    const { text, zone } = clockText(serverNow, this.lang, this.s.timeZone);
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
