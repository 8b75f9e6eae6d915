// Page options from the URL: ?lang=zh|en|fr|ar (default, or a language the area does not
// name its places in: the area's first; i18n.js chooseLanguage), ?stale=SECONDS to override how long
// the page waits for data before it calls itself stale, ?controls=1 to show the time bar
// always, and the moment to show (?session=&at=&speed=, see travelurl.js).
import { parseTravel } from './travelurl.js';

export function parseParams(search) {
  const q = new URLSearchParams(search);
  const lang = q.get('lang');
  const stale = Number(q.get('stale'));
  const { travel, errors } = parseTravel(search);
  return {
    lang,
    staleAfterS: Number.isFinite(stale) && stale > 0 ? stale : null,
    controls: q.get('controls') === '1',
    travel,
    errors,
  };
}
