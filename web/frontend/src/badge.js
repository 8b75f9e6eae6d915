// The badge's words whenever the screen is not live, so nobody takes the past for now:
// "REPLAY 12-03 14:05 ×60" while playing, "REPLAY 12-03 14:05:07 PAUSED" when paused (a
// paused screen is looked at closely, so the second counts), and "SESSION name" for a
// replayed log's session (the live session's past needs no name).
import { formatSpeed, wallFields } from './travelurl.js';

const WORDS = {
  zh: { replay: '回放', paused: '已暂停', session: '场次' },
  en: { replay: 'REPLAY', paused: 'PAUSED', session: 'SESSION' },
  fr: { replay: 'RELECTURE', paused: 'EN PAUSE', session: 'SESSION' },
  ar: { replay: 'إعادة', paused: 'متوقف', session: 'الجلسة' },
};

// `zone`: the area's time zone (travelurl.js's wallFields), UTC+8 unless told.
export function travelBadge({ session, t, speed, playing }, lang, zone = undefined) {
  const w = WORDS[lang] ?? WORDS.en;
  const f = wallFields(t, zone);
  const hm = `${f.month}-${f.day} ${f.hour}:${f.minute}`;
  const text = playing ? `${w.replay} ${hm} ×${formatSpeed(speed)}` : `${w.replay} ${hm}:${f.second} ${w.paused}`;
  const detail = session === 'live' ? '' : `${w.session} ${session}`;
  return { text, detail };
}
