// The moment in the URL, so a docent can bookmark it:
//   /?session=S&at=2026-12-03T14:05:00+08:00&speed=60 (written in the area's time zone)
// `session` (default `live`) names the history session, `at` the second on screen (ISO 8601
// with an offset, or Unix seconds), `speed` the playback speed: present means playing,
// absent means paused. No `session` and no `at`: the live screen.
import { MAX_SPEED, MIN_SPEED, validSpeed } from './playback.js';

export const SESSION_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/; // SPEC section 9
// The default zone of these functions: UTC+8, the guizhou pack's (SPEC section 6). The page
// passes its pack's time zone (an IANA name, whose offset may change with the date).
export const WALL_OFFSET_S = 8 * 3600;
const TRAVEL_KEYS = ['session', 'at', 'speed'];

// A form-encoded `+` arrives as a space: "14:05:00 08:00" is read as "14:05:00+08:00".
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+\- ]\d{2}:?\d{2})$/;

// Seconds since the epoch, or throws a RangeError that says what is wrong.
export function parseMoment(text) {
  if (/^\d{1,11}$/.test(text)) return Number(text);
  const m = ISO_RE.exec(text);
  if (!m) {
    throw new RangeError(`at=${text} is not a moment: use 2026-12-03T14:05:00+08:00 or Unix seconds`);
  }
  const [, y, mo, d, h, mi, s = '00', zone] = m;
  const fields = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)];
  const [Y, M, D, H, N, S] = fields;
  if (M < 1 || M > 12 || D < 1 || D > 31 || H > 23 || N > 59 || S > 59) {
    throw new RangeError(`at=${text} is not a valid date and time`);
  }
  const local = Date.UTC(Y, M - 1, D, H, N, S) / 1000;
  if (new Date(local * 1000).getUTCDate() !== D) throw new RangeError(`at=${text}: no such day`);
  let offset = 0;
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 14 || om > 59) throw new RangeError(`at=${text}: offset ${zone} is out of range`);
    offset = sign * (oh * 3600 + om * 60);
  }
  return local - offset;
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

const offsetFormats = new Map(); // time zone -> Intl.DateTimeFormat

// The UTC offset in seconds of time zone `zone` at second `t`. `zone` is a fixed offset in
// seconds, an IANA name (asked of Intl, so Africa/Casablanca's hour less around Ramadan
// counts), or the server's table {name, until, offsets: [[from, offset], ...]}
// (web/zone_table.py), trusted within its span: a browser's own tz data can be older
// than the server's (Debian's Chromium 156 has Casablanca at UTC+0 from late 2026 on).
export function offsetAt(t, zone = WALL_OFFSET_S) {
  if (typeof zone === 'number') return zone;
  if (zone !== null && typeof zone === 'object') {
    const table = zone.offsets ?? [];
    if (table.length && t >= table[0][0] && t < zone.until) {
      let lo = 0;
      let hi = table.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (table[mid][0] <= t) lo = mid;
        else hi = mid - 1;
      }
      return table[lo][1];
    }
    return offsetAt(t, zone.name);
  }
  let f = offsetFormats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormats.set(zone, f);
  }
  const p = {};
  for (const { type, value } of f.formatToParts(new Date(t * 1000))) p[type] = Number(value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) / 1000 - t;
}

// Wall-clock fields of second `t` in `zone` (a fixed offset in seconds or an IANA name).
export function wallFields(t, zone = WALL_OFFSET_S) {
  const d = new Date((t + offsetAt(t, zone)) * 1000);
  return {
    year: d.getUTCFullYear(),
    month: pad(d.getUTCMonth() + 1),
    day: pad(d.getUTCDate()),
    hour: pad(d.getUTCHours()),
    minute: pad(d.getUTCMinutes()),
    second: pad(d.getUTCSeconds()),
  };
}

export function formatMoment(t, zone = WALL_OFFSET_S) {
  const offsetS = offsetAt(t, zone);
  const f = wallFields(t, offsetS);
  const sign = offsetS < 0 ? '-' : '+';
  const a = Math.abs(offsetS);
  const offset = `${sign}${pad(Math.floor(a / 3600))}:${pad(Math.floor((a % 3600) / 60))}`;
  return `${f.year}-${f.month}-${f.day}T${f.hour}:${f.minute}:${f.second}${offset}`;
}

// Speeds are written without float noise: 0.1, 60, 10000.
export function formatSpeed(speed) {
  return String(Math.round(speed * 1000) / 1000);
}

// {travel: null} for the live screen, else {travel: {session, at, speed, playing}}; `errors`
// lists what in the URL was wrong and ignored, in words a person can act on.
export function parseTravel(search) {
  const q = new URLSearchParams(search);
  const errors = [];
  const hasSession = q.has('session');
  const hasAt = q.has('at');
  if (!hasSession && !hasAt) {
    if (q.has('speed')) errors.push('speed= needs a moment: add at= (or session=)');
    return { travel: null, errors };
  }
  let session = 'live';
  if (hasSession) {
    const s = q.get('session');
    if (SESSION_RE.test(s)) session = s;
    else {
      errors.push(`session=${s.slice(0, 70)} is not a session name ([a-z0-9][a-z0-9_-]{0,62})`);
      if (!hasAt) return { travel: null, errors };
    }
  }
  let at = null; // null: the start of the session, once its range is known
  if (hasAt) {
    try {
      at = parseMoment(q.get('at'));
    } catch (e) {
      errors.push(e.message);
    }
  }
  let speed = 1;
  let playing = false;
  if (q.has('speed')) {
    const raw = q.get('speed');
    const v = Number(raw);
    if (raw !== '' && validSpeed(v)) {
      speed = v;
      playing = true;
    } else {
      errors.push(`speed=${raw.slice(0, 20)} must be a number from ${MIN_SPEED} to ${MAX_SPEED}`);
    }
  }
  return { travel: { session, at, speed, playing }, errors };
}

// The query string for `travel` (null: live), keeping every other parameter as it was.
export function serialiseTravel(search, travel, zone = WALL_OFFSET_S) {
  const q = new URLSearchParams(search);
  for (const k of TRAVEL_KEYS) q.delete(k);
  const parts = q.toString() ? [q.toString()] : [];
  if (travel) {
    parts.push(`session=${encodeURIComponent(travel.session)}`);
    // ':' and '+' are kept readable; parseMoment reads a '+' decoded to a space too.
    if (travel.at !== null && travel.at !== undefined) parts.push(`at=${formatMoment(travel.at, zone)}`);
    if (travel.playing) parts.push(`speed=${formatSpeed(travel.speed)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}
