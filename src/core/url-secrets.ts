// The parts of a URL that may be secrets, and URLs shown without them: config errors, delivery
// errors and log lines show a URL with its credentials, query values, fragment and token-long
// path segments replaced by [redacted] — never the URL as written.

export const REDACTED = '[redacted]';

/** Length from which a path segment counts as a token (Slack's and Discord's are 24+). */
const PATH_TOKEN_MIN = 12;
/** Length from which a query value counts as a token (not `1` or `json`). */
const QUERY_TOKEN_MIN = 6;

/**
 * The parts of a parsed URL that may be secrets, longest first: its password, its path and
 * query as written, query values and path segments long enough to be tokens — not short ones
 * such as `api`, `v2` or `1`, which scrubbing would only garble messages with.
 */
export function urlSecrets(url: URL): string[] {
  const out = [url.password, url.search, `${url.pathname}${url.search}`];
  for (const value of url.searchParams.values()) if (value.length >= QUERY_TOKEN_MIN) out.push(value);
  for (const segment of url.pathname.split('/'))
    if (segment.length >= PATH_TOKEN_MIN) out.push(segment, safeDecode(segment));
  return out.filter((x) => x.length > 1 && x !== '/').sort((a, b) => b.length - a.length);
}

/**
 * A URL as written — valid or not, with or without a scheme — with its user and password,
 * query values, fragment and token-long path segments replaced: `https://[redacted]@host/hooks/
 * [redacted]?token=[redacted]`. Where the text is ambiguous (a password holding `/` or `#`,
 * not percent-encoded), more is hidden rather than less.
 */
export function redactUrl(text: string): string {
  const scheme = /^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\//.exec(text)?.[0] ?? '';
  let rest = text.slice(scheme.length);
  // User info ends at the last `@` before the query or fragment; an `@` after them still
  // counts when no `/` precedes it (a password holding `?` or `#` makes the URL invalid,
  // and the error showing it must not show the password).
  const queryOrFragment = rest.search(/[?#]/);
  let at = rest.lastIndexOf('@', queryOrFragment < 0 ? rest.length : queryOrFragment);
  if (queryOrFragment >= 0 && at >= queryOrFragment) at = -1;
  if (at < 0) {
    const last = rest.lastIndexOf('@');
    if (last >= 0 && !rest.slice(0, last).includes('/')) at = last;
  }
  const userinfo = at >= 0 ? `${REDACTED}@` : '';
  rest = rest.slice(at + 1);

  const hashAt = rest.indexOf('#');
  const fragment = hashAt < 0 ? '' : rest.slice(hashAt + 1);
  if (hashAt >= 0) rest = rest.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  const query = queryAt < 0 ? undefined : rest.slice(queryAt + 1);
  if (queryAt >= 0) rest = rest.slice(0, queryAt);
  const pathAt = rest.search(/[/\\]/);
  const host = pathAt < 0 ? rest : rest.slice(0, pathAt);
  const path = pathAt < 0 ? '' : rest.slice(pathAt);

  const redactedPath = path.replace(/[^/\\]+/g, (segment) =>
    segment.length >= PATH_TOKEN_MIN ? REDACTED : segment,
  );
  const redactedQuery =
    query === undefined
      ? ''
      : `?${query
          .split('&')
          .map((part) => {
            const eq = part.indexOf('=');
            if (eq < 0) return part.length >= QUERY_TOKEN_MIN ? REDACTED : part;
            return eq === part.length - 1 ? part : `${part.slice(0, eq + 1)}${REDACTED}`;
          })
          .join('&')}`;
  const redactedFragment = hashAt < 0 ? '' : fragment === '' ? '#' : `#${REDACTED}`;
  return `${scheme}${userinfo}${host}${redactedPath}${redactedQuery}${redactedFragment}`;
}

/** A URL in running text: a scheme, `://`, then anything up to white space or a quote. */
const URL_IN_TEXT = /[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>`]+/g;

/** Text with every URL in it (`scheme://…`) shown as redactUrl shows it. */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => {
    // Sentence punctuation after a URL is not part of it.
    const trailing = /[).,;:!]+$/.exec(url)?.[0] ?? '';
    return `${redactUrl(url.slice(0, url.length - trailing.length))}${trailing}`;
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
