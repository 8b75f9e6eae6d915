// Page options from the URL: ?lang=zh (default) | en, and ?stale=SECONDS to override how
// long the page waits for data before it calls itself stale.
export function parseParams(search) {
  const q = new URLSearchParams(search);
  const lang = q.get('lang') === 'en' ? 'en' : 'zh';
  const stale = Number(q.get('stale'));
  return {
    lang,
    staleAfterS: Number.isFinite(stale) && stale > 0 ? stale : null,
  };
}
