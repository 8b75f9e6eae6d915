// The badge whenever the screen is not live (2026-12-03 14:05:07 +08:00 is 1796277907).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { travelBadge } from '../src/badge.js';

const t = 1796277907;

test('playing: the minute and the speed, as in the issue', () => {
  assert.deepEqual(travelBadge({ session: 'live', t, speed: 60, playing: true }, 'en'), {
    text: 'REPLAY 12-03 14:05 ×60',
    detail: '',
  });
  assert.equal(travelBadge({ session: 'live', t, speed: 0.1, playing: true }, 'en').text, 'REPLAY 12-03 14:05 ×0.1');
  assert.equal(travelBadge({ session: 'live', t, speed: 10000, playing: true }, 'zh').text, '回放 12-03 14:05 ×10000');
});

test('paused: the exact second', () => {
  assert.equal(travelBadge({ session: 'live', t, speed: 60, playing: false }, 'en').text, 'REPLAY 12-03 14:05:07 PAUSED');
  assert.equal(travelBadge({ session: 'live', t, speed: 60, playing: false }, 'zh').text, '回放 12-03 14:05:07 已暂停');
});

test("a replayed log's session is named", () => {
  assert.equal(travelBadge({ session: 'demo-day', t, speed: 1, playing: true }, 'en').detail, 'SESSION demo-day');
  assert.equal(travelBadge({ session: 'demo-day', t, speed: 1, playing: true }, 'zh').detail, '场次 demo-day');
});

test('the wall time zone, not the machine one: midnight UTC is 08:00', () => {
  assert.equal(travelBadge({ session: 'live', t: 1796256000, speed: 1, playing: true }, 'en').text, 'REPLAY 12-03 08:00 ×1');
});
