// Building history requests and frames, with hand-made API answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calloutsUrl, findSession, loadFrame, pastMoments, seriesUrl, sparkRequest, stateUrl } from '../src/history.js';

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

const CALLOUT = { name: 'corridor_shipments_15m', key: '520300>520100', t: T - 5, since: T - 60, value: 3, expected: 17, low: 12, high: 22, score: -4.5 };

test('a frame asks for now, its call-outs, yesterday and last week, and carries them', async () => {
  const asked = [];
  const get = async (url) => {
    asked.push(url);
    const t = Number(new URL(url, 'http://wall').searchParams.get('t'));
    if (url.startsWith('/api/history/callouts')) return { session: 'live', t, callouts: [CALLOUT] };
    return { session: 'live', t, values: { 'shipments_1m|520000': t === T ? 20 : 10 } };
  };
  const frame = await loadFrame(get, 'live', T, { from: T - 86400, to: T });
  assert.deepEqual(asked, [stateUrl('live', T), calloutsUrl('live', T), stateUrl('live', T - 86400)]);
  assert.equal(calloutsUrl('live', T), `/api/history/callouts?session=live&t=${T}`);
  assert.deepEqual(frame, {
    session: 'live',
    t: T,
    now: { 'shipments_1m|520000': 20 },
    callouts: [CALLOUT],
    day: { 'shipments_1m|520000': 10 },
    week: null,
  });
});

test('a server without call-outs in its history: the frame has none, and still shows', async () => {
  const get = async (url) => {
    if (url.startsWith('/api/history/callouts')) throw new Error('no such history request');
    return { session: 'live', t: T, values: { 'shipments_1m|520000': 20 } };
  };
  const frame = await loadFrame(get, 'live', T, { from: T, to: T });
  assert.deepEqual(frame.callouts, []);
  assert.deepEqual(frame.now, { 'shipments_1m|520000': 20 });
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
    const callouts = url.startsWith('/api/history/callouts');
    events.push(`get ${callouts ? 'callouts ' : ''}${t}`);
    return callouts ? { callouts: [CALLOUT] } : { session: 'live', t, values: { 'shipments_1m|520000': t } };
  };
  const onNow = (now, callouts) => events.push(`now ${now['shipments_1m|520000']} ${callouts.length}`);
  const frame = await loadFrame(get, 'live', T, { from: T - 86400, to: T }, onNow);
  assert.deepEqual(events, [`get ${T}`, `get callouts ${T}`, `now ${T} 1`, `get ${T - 86400}`]);
  assert.deepEqual(frame.day, { 'shipments_1m|520000': T - 86400 });
});
