// The config slices of the alert receiver kinds (`alerts.receivers[]`).

import { z } from 'zod';
import { filePath, httpUrl, name, positiveDurationDefault } from '../config-kit/fields.ts';

const receiverCommon = {
  /** Name in logs and metrics. Default: the kind (alertmanager, webhook), then kind-2, kind-3 for later ones of that kind. */
  name: name.optional(),
  timeout: positiveDurationDefault('5s', 'Longest wait for one delivery (one HTTP POST).'),
};

/** An HTTP header name, and a value on one line (a value with a line break could add headers). */
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'an HTTP header name' });
const headerValue = z.string().regex(/^[^\r\n]*$/, { message: 'a header value on one line' });

export const alertmanagerReceiverConfig = z.strictObject({
  ...receiverCommon,
  /** An Alertmanager (API v2): alerts are POSTed to <url>/api/v2/alerts. */
  kind: z.literal('alertmanager'),
  /** Alertmanager's base URL, e.g. http://127.0.0.1:9093 (with its route prefix, if any). */
  url: httpUrl,
});

export const webhookReceiverConfig = z
  .strictObject({
    ...receiverCommon,
    /** Any HTTP endpoint: one JSON object POSTed per alert state (docs/alerts.md). */
    kind: z.literal('webhook'),
    url: httpUrl,
    /** Headers sent with every POST. Default none. */
    headers: z.record(headerName, headerValue).default({}),
    /** File holding a bearer token, sent as Authorization: Bearer (relative to the config file's folder). */
    tokenFile: filePath().optional(),
  })
  .superRefine((r, ctx) => {
    const authorizationHeaders = Object.keys(r.headers).filter((h) => h.toLowerCase() === 'authorization');
    if (r.tokenFile !== undefined)
      for (const h of authorizationHeaders)
        ctx.addIssue({
          code: 'custom',
          path: ['headers', h],
          message: 'set either tokenFile or an Authorization header, not both',
        });
    // A user and password in a URL are sent as Authorization: Basic (src/alerts).
    const url = URL.parse(r.url);
    const authorization = r.tokenFile !== undefined || authorizationHeaders.length > 0;
    if (url !== null && (url.username !== '' || url.password !== '') && authorization)
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message:
          'the user and password in the url are sent as an Authorization header: set either them, tokenFile or an Authorization header',
      });
  });
