// Title, the China Standard Time clock and the connection badge.
import { el, setText } from './dom.js';

const CST = 'Asia/Shanghai';

export class Header {
  constructor(container, s, lang) {
    this.s = s;
    this.lang = lang;
    this.root = el('header', 'head');
    const title = el('h1', '', s.title);
    const subtitle = el('div', 'subtitle', s.subtitle);
    this.subtitle = subtitle;
    this.clock = el('div', 'clock');
    this.clockText = el('span', 'time');
    this.clock.append(this.clockText, el('span', 'zone', s.zone));
    this.badge = el('div', 'badge');
    this.badge.id = 'badge';
    this.badgeText = el('span', 'state');
    this.badgeDetail = el('span', 'detail');
    this.badge.append(this.badgeText, this.badgeDetail);
    this.root.append(title, subtitle, el('div', 'spacer'), this.clock, this.badge);
    container.append(this.root);
    // The wall shows Guizhou's time whatever the time zone of the machine driving it.
    this.format = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'zh-CN', {
      timeZone: CST,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    });
    this.setState('connecting', '');
  }

  tick(serverNow) {
    const parts = {};
    for (const { type, value } of this.format.formatToParts(new Date(serverNow))) parts[type] = value;
    const { year, month, day, weekday, hour, minute, second } = parts;
    const text =
      this.lang === 'en'
        ? `${weekday} ${year}-${month}-${day} ${hour}:${minute}:${second}`
        : `${year}年${month}月${day}日 ${weekday} ${hour}:${minute}:${second}`;
    setText(this.clockText, text);
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
