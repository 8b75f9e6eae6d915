// The replay clock, against hand-worked timelines (wall time in ms, T in seconds).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PlaybackClock } from '../src/playback.js';

const range = { from: 1000, to: 2000 };

test('paused, T stays where it was put', () => {
  const c = new PlaybackClock({ ...range, at: 1500, now: 0 });
  assert.equal(c.second(0), 1500);
  assert.equal(c.second(60_000), 1500);
});

test('playing, T advances by speed times elapsed wall time', () => {
  const c = new PlaybackClock({ ...range, at: 1000, speed: 60, playing: true, now: 10_000 });
  assert.equal(c.exact(10_000), 1000);
  assert.equal(c.exact(10_500), 1030); // half a second at 60x
  assert.equal(c.second(11_000), 1060);
});

test('slow speeds: 0.1x shows each second for ten', () => {
  const c = new PlaybackClock({ ...range, at: 1200, speed: 0.1, playing: true, now: 0 });
  assert.equal(c.second(9_999), 1200);
  assert.equal(c.second(10_000), 1201);
});

test('pause keeps the moment reached, play resumes from it', () => {
  const c = new PlaybackClock({ ...range, at: 1000, speed: 10, playing: true, now: 0 });
  c.pause(3_000); // 1030
  assert.equal(c.second(50_000), 1030);
  c.play(50_000);
  assert.equal(c.second(52_000), 1050);
});

test('a seek jumps and keeps playing or paused as it was', () => {
  const c = new PlaybackClock({ ...range, at: 1000, speed: 2, playing: true, now: 0 });
  c.seek(1800, 1_000);
  assert.equal(c.second(1_000), 1800);
  assert.equal(c.second(2_000), 1802);
  c.pause(2_000);
  c.seek(1100, 5_000);
  assert.equal(c.second(9_000), 1100);
});

test('seeks are clamped to the session range', () => {
  const c = new PlaybackClock({ ...range, at: 1500, now: 0 });
  c.seek(10, 0);
  assert.equal(c.second(0), 1000);
  c.seek(99_999, 0);
  assert.equal(c.second(0), 2000);
  assert.equal(new PlaybackClock({ ...range, at: 5, now: 0 }).second(0), 1000);
});

test('playback stops at the end of the range; play there starts over', () => {
  const c = new PlaybackClock({ ...range, at: 1990, speed: 100, playing: true, now: 0 });
  assert.equal(c.update(1_000), 2000); // 1990 + 100 would be 2090
  assert.equal(c.playing, false);
  assert.equal(c.second(60_000), 2000);
  c.play(60_000);
  assert.equal(c.second(60_000), 1000);
  assert.equal(c.second(60_010), 1001); // 10 ms at 100x
});

test('steps of a second or a minute go from the second shown, and pause', () => {
  const c = new PlaybackClock({ ...range, at: 1500.7, speed: 1, playing: true, now: 0 });
  c.step(+1, 0);
  assert.equal(c.exact(0), 1501);
  assert.equal(c.playing, false);
  c.step(-60, 10_000);
  assert.equal(c.second(10_000), 1441);
  c.step(-3600, 10_000);
  assert.equal(c.second(10_000), 1000);
});

test('changing speed keeps the moment and changes only the rate from then on', () => {
  const c = new PlaybackClock({ ...range, at: 1000, speed: 1, playing: true, now: 0 });
  c.setSpeed(100, 4_000); // 1004 reached at 1x
  assert.equal(c.exact(4_000), 1004);
  assert.equal(c.exact(5_000), 1104);
  assert.throws(() => c.setSpeed(0.05, 5_000), /speed must be from 0.1 to 10000/);
  assert.throws(() => c.setSpeed(20_000, 5_000), /speed must be from 0.1 to 10000/);
  c.setSpeed(10_000, 5_000);
  assert.equal(c.exact(5_050), 1604);
});

test('a growing range (the live session) keeps the moment; a shrunk one clamps it', () => {
  const c = new PlaybackClock({ ...range, at: 2000, now: 0 });
  c.setRange(1000, 2500, 0);
  assert.equal(c.second(0), 2000);
  c.seek(2400, 0);
  c.setRange(1500, 2200, 0);
  assert.equal(c.second(0), 2200);
});

test('a bad range or speed is refused with a clear error', () => {
  assert.throws(() => new PlaybackClock({ from: 5, to: 4 }), /from <= to/);
  assert.throws(() => new PlaybackClock({ ...range, speed: 0 }), /speed must be/);
  assert.throws(() => new PlaybackClock({ ...range, speed: Number.NaN }), /speed must be/);
});
