// The request line's target as the API reads it: a path from the root and its query, with
// percent-encoding that decodes to UTF-8; anything else is the caller's mistake (a 400), not
// a URIError deep in a handler.

export type RequestTarget =
  | { readonly ok: true; readonly pathname: string; readonly searchParams: URLSearchParams }
  | { readonly ok: false; readonly error: string };

/** The URL the target is read against: only its path and query are used. */
const BASE = 'http://rampart.invalid';

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * `/api/v1/pools?x=1` → its pathname and query. Refused: a target that is not a path from the
 * root (`*`, `http://host/…`, and `//host/…` or `/\host/…`, which a URL parser reads as another
 * host), and bad percent-encoding (`%c0%ae`, `%zz`, a lone `%`) in the path or the query.
 */
export function parseRequestTarget(target: string): RequestTarget {
  const shown = JSON.stringify(target.slice(0, 100));
  if (!/^\/(?![/\\])/.test(target))
    return { ok: false, error: `the request target ${shown} is not a path starting with one /` };
  const url = URL.parse(target, BASE);
  if (!url) return { ok: false, error: `the request target ${shown} is not a valid path` };
  if (!decodes(url.pathname))
    return { ok: false, error: `the path ${shown} has bad percent-encoding (%XX must spell UTF-8)` };
  // URLSearchParams would quietly turn bad escapes into U+FFFD; refuse them as in the path.
  if (!decodes(url.search.slice(1).replace(/\+/g, ' ')))
    return { ok: false, error: `the query of ${shown} has bad percent-encoding (%XX must spell UTF-8)` };
  return { ok: true, pathname: url.pathname, searchParams: url.searchParams };
}
