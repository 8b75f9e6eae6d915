// Building history requests and frames, with hand-made API answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findSession, loadFrame, pastMoments, seriesUrl, sparkRequest, stateUrl } from '../src/history.js';

const T = 1796277900;

test('the state request for a session and second', () => {
  assert.equal(stateUrl('live', T), `/api/history/state?session=live&t=${T}`);
});

test('yesterday and last week only where the session covers them', () => {
  assert.deepEqual(pastMoments(T, { from: T - 8 * 86400, to: T }), { day: T - 86400, week: T - 604800 });
  assert.deepEqual(pastMoments(T, { from: T - 86400, to: T }), { day: T - 86400, week: null });
  assert.deepEqual(pastMoments(T, { from: T - 86399, to: T }), { day: null, week: null });
  assert.deepEqual(pastMoments(T, null), { day: null, week: null });
});

test('sessions answer: the named one, or null', () => {
  const answer = { sessions: [{ name: 'live', from: 10, to: 20, records: 5 }, { name: 'demo', from: 1, to: 2, records: 1 }] };
  assert.deepEqual(findSession(answer, 'demo'), { name: 'demo', from: 1, to: 2, records: 1 });
  assert.equal(findSession(answer, 'other'), null);
  assert.equal(findSession({}, 'live'), null);
});

test('a frame asks for now, yesterday and last week, and carries their values', async () => {
  const asked = [];
  const get = async (url) => {
    asked.push(url);
    const t = Number(new URL(url, 'http://wall').searchParams.get('t'));
    return { session: 'live', t, values: { 'shipments_1m|520000': t === T ? 20 : 10 } };
  };
  const frame = await loadFrame(get, 'live', T, { from: T - 86400, to: T });
  assert.deepEqual(asked, [stateUrl('live', T), stateUrl('live', T - 86400)]);
  assert.deepEqual(frame, {
    session: 'live',
    t: T,
    now: { 'shipments_1m|520000': 20 },
    day: { 'shipments_1m|520000': 10 },
    week: null,
  });
});

test('an API error fails the frame with its message', async () => {
  const get = async () => {
    throw new Error('t=5 is outside session live (10..20)');
  };
  await assert.rejects(loadFrame(get, 'live', 5, { from: 10, to: 20 }), /outside session live/);
});

test('a sparkline request: the quarter hour before t, within the session, in few points', () => {
  assert.deepEqual(sparkRequest(T, { from: T - 86400, to: T }, 900, 90), { from: T - 900, to: T, step: 10 });
  assert.deepEqual(sparkRequest(T, { from: T - 100, to: T }, 900, 90), { from: T - 100, to: T, step: 2 });
  assert.deepEqual(sparkRequest(T, { from: T - 50, to: T }, 900, 90), { from: T - 50, to: T, step: 1 });
  assert.equal(sparkRequest(T, { from: T - 1, to: T }, 900, 90), null);
  assert.equal(
    seriesUrl('demo', 'shipments_1m', '520000', 10, 20, 5),
    '/api/history/series?session=demo&name=shipments_1m&key=520000&from=10&to=20&step=5',
  );
});

test('a seek asks for its second alone first and hands it over before the comparisons', async () => {
  const events = [];
  const get = async (url) => {
    const t = Number(new URL(url, 'http://wall').searchParams.get('t'));
    events.push(`get ${t}`);
    return { session: 'live', t, values: { 'shipments_1m|520000': t } };
  };
  const frame = await loadFrame(get, 'live', T, { from: T - 86400, to: T }, (now) => events.push(`now ${now['shipments_1m|520000']}`));
  assert.deepEqual(events, [`get ${T}`, `now ${T}`, `get ${T - 86400}`]);
  assert.deepEqual(frame.day, { 'shipments_1m|520000': T - 86400 });
});
