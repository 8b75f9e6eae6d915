// The URL's session/at/speed, against moments worked out by hand (and checked with Python's
// datetime: 2026-12-03 14:05:00 +08:00 is 1796277900).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMoment, parseMoment, parseTravel, serialiseTravel } from '../src/travelurl.js';

const T = 1796277900; // 2026-12-03T14:05:00+08:00

test('moments in ISO 8601 with an offset, Z, or Unix seconds', () => {
  assert.equal(parseMoment('2026-12-03T14:05:00+08:00'), T);
  assert.equal(parseMoment('2026-12-03T06:05:00Z'), T);
  assert.equal(parseMoment('2026-12-03T14:05+08:00'), T);
  assert.equal(parseMoment('2026-12-03T14:05:07.900+08:00'), T + 7); // the second, not rounded up
  assert.equal(parseMoment('2026-12-03T14:05:00 08:00'), T); // '+' decoded to a space
  assert.equal(parseMoment('2024-02-29T00:00:00-05:30'), 1709184600);
  assert.equal(parseMoment(String(T)), T);
});

test('what is not a moment is refused, saying so', () => {
  assert.throws(() => parseMoment('2026-12-03T14:05:00'), /not a moment/); // no offset: ambiguous
  assert.throws(() => parseMoment('yesterday'), /not a moment/);
  assert.throws(() => parseMoment('2026-02-30T10:00:00+08:00'), /no such day/);
  assert.throws(() => parseMoment('2026-13-01T10:00:00+08:00'), /not a valid date/);
  assert.throws(() => parseMoment('2026-12-03T24:00:00+08:00'), /not a valid date/);
  assert.throws(() => parseMoment('2026-12-03T10:00:00+15:00'), /offset/);
});

test('moments are written in the wall time zone', () => {
  assert.equal(formatMoment(T), '2026-12-03T14:05:00+08:00');
  assert.equal(formatMoment(1764000060), '2025-11-25T00:01:00+08:00');
});

test('no session and no moment: the live screen', () => {
  assert.deepEqual(parseTravel('?lang=en'), { travel: null, errors: [] });
  assert.deepEqual(parseTravel(''), { travel: null, errors: [] });
});

test('the example bookmark plays at 60x from its moment', () => {
  const { travel, errors } = parseTravel('?session=demo&at=2026-12-03T14:05:00+08:00&speed=60');
  assert.deepEqual(errors, []);
  assert.deepEqual(travel, { session: 'demo', at: T, speed: 60, playing: true });
});

test('without speed the moment is shown paused; without session it is the live one', () => {
  assert.deepEqual(parseTravel(`?at=${T}`).travel, { session: 'live', at: T, speed: 1, playing: false });
  assert.deepEqual(parseTravel('?session=day-1').travel, { session: 'day-1', at: null, speed: 1, playing: false });
});

test('bad parts are reported and ignored, the rest still holds', () => {
  const bad = parseTravel(`?session=demo&at=noon&speed=99999`);
  assert.deepEqual(bad.travel, { session: 'demo', at: null, speed: 1, playing: false });
  assert.equal(bad.errors.length, 2);
  assert.match(bad.errors[0], /at=noon is not a moment/);
  assert.match(bad.errors[1], /speed=99999 must be a number from 0.1 to 10000/);
  const name = parseTravel('?session=Bad%20Name');
  assert.equal(name.travel, null);
  assert.match(name.errors[0], /not a session name/);
  assert.match(parseTravel('?speed=2').errors[0], /needs a moment/);
  assert.deepEqual(parseTravel(`?at=${T}&speed=`).travel.playing, false);
});

test('serialising keeps other parameters and round-trips', () => {
  const travel = { session: 'demo', at: T, speed: 60, playing: true };
  const search = serialiseTravel('?lang=en&controls=1&at=old', travel);
  assert.equal(search, '?lang=en&controls=1&session=demo&at=2026-12-03T14:05:00+08:00&speed=60');
  assert.deepEqual(parseTravel(search).travel, travel);
  const paused = serialiseTravel('', { ...travel, playing: false, speed: 0.1 });
  assert.equal(paused, '?session=demo&at=2026-12-03T14:05:00+08:00');
  assert.equal(serialiseTravel('?lang=en&session=demo&at=1&speed=2', null), '?lang=en');
  assert.equal(serialiseTravel('?session=demo', null), '');
  assert.equal(serialiseTravel('', { ...travel, speed: 0.1 }).endsWith('speed=0.1'), true);
});
