// Talking to the history API (SPEC section 9) and turning its answers into what the panels
// read. The URL builders and the frame assembly are pure; only getJson touches the network.
import { DAY_S, WEEK_S } from './change.js';

export const SESSIONS_URL = '/api/history/sessions';

export function stateUrl(session, t) {
  return `/api/history/state?session=${encodeURIComponent(session)}&t=${t}`;
}

// The call-outs active at second t (docs/history.md).
export function calloutsUrl(session, t) {
  return `/api/history/callouts?session=${encodeURIComponent(session)}&t=${t}`;
}

// The value as of every `step` seconds from `from` to `to` (a sparkline's worth).
export function seriesUrl(session, name, key, from, to, step) {
  const q = `session=${encodeURIComponent(session)}&name=${encodeURIComponent(name)}&key=${encodeURIComponent(key)}`;
  return `/api/history/series?${q}&from=${from}&to=${to}&step=${step}`;
}

// A sparkline's span before t, within the session, in at most `points` steps (null: too
// little history before t to draw a line).
export function sparkRequest(t, range, spanS, points) {
  const from = Math.max(range.from, t - spanS);
  if (t - from < 2) return null;
  return { from, to: t, step: Math.max(1, Math.ceil((t - from) / points)) };
}

// The same moment yesterday and a week ago, where the session covers them (else null:
// the wall shows "—" rather than a comparison with nothing).
export function pastMoments(t, range) {
  const inside = (x) => range !== null && x >= range.from && x <= range.to;
  return { day: inside(t - DAY_S) ? t - DAY_S : null, week: inside(t - WEEK_S) ? t - WEEK_S : null };
}

export function findSession(answer, name) {
  const s = (answer?.sessions ?? []).find((x) => x.name === name);
  return s ? { name: s.name, from: s.from, to: s.to, records: s.records } : null;
}

// Everything one screen of history needs: the state at t and at the two past moments.
// `get(url)` resolves to the parsed JSON or rejects with an Error saying what went wrong.
// With `onNow`, the state at t is asked alone first and handed to onNow(values) as soon as
// it comes (a seek shows its second without waiting for the comparisons); without, all
// three are asked at once (playing: one round trip a screen).
// The call-outs at t come with the state at t (a server without them answers none).
export async function loadFrame(get, session, t, range, onNow = null) {
  const past = pastMoments(t, range);
  const pastState = (x) => (x === null ? null : get(stateUrl(session, x)));
  const nowState = () => Promise.all([get(stateUrl(session, t)), get(calloutsUrl(session, t)).catch(() => null)]);
  let now;
  let callouts;
  let day;
  let week;
  if (onNow) {
    [now, callouts] = await nowState();
    onNow(now.values, callouts?.callouts ?? []);
    [day, week] = await Promise.all([pastState(past.day), pastState(past.week)]);
  } else {
    [[now, callouts], day, week] = await Promise.all([nowState(), pastState(past.day), pastState(past.week)]);
  }
  const shown = callouts?.callouts ?? [];
  return { session, t, now: now.values, callouts: shown, day: day?.values ?? null, week: week?.values ?? null };
}

export async function getJson(url, signal = undefined) {
  const response = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store', signal });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const why = body && typeof body.error === 'string' ? body.error : `HTTP ${response.status}`;
    throw new Error(why);
  }
  return body;
}
