// The scale set's own autoscale must be off: two autoscalers on one scale set fight, and
// Azure's would remove instances Rampart did not choose. Autoscale settings belong to
// Microsoft.Insights, whose client is not one of Rampart's dependencies: this reads them
// with one Resource Manager GET (api-version 2022-10-01, Microsoft's documented
// "Autoscale Settings - List By Resource Group"), with the provider's credential and CAs.

import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenCredential } from '@azure/identity';

export const AUTOSCALE_API_VERSION = '2022-10-01';

export interface AutoscaleCheck {
  readonly credential: TokenCredential;
  readonly endpoint: string;
  readonly ca?: string | undefined;
  /** /subscriptions/…/resourceGroups/NAME */
  readonly resourceGroupId: string;
  readonly scaleSetId: string;
  readonly timeoutMs: number;
  readonly attempts: number;
}

interface AutoscaleSetting {
  readonly id?: string;
  readonly name?: string;
  readonly properties?: { readonly enabled?: boolean; readonly targetResourceUri?: string };
}

function get(
  url: URL,
  token: string,
  c: AutoscaleCheck,
): Promise<{ status: number; body: string; retryAfter?: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        ...(c.ca ? { ca: c.ca } : {}),
        timeout: c.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfter: res.headers['retry-after'] as string | undefined,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('no answer in time'), { name: 'TimeoutError' })),
    );
    req.on('error', reject);
    req.end();
  });
}

/** Throws, naming the setting, when an enabled autoscale setting targets the scale set. */
export async function checkAutoscaleOff(c: AutoscaleCheck): Promise<void> {
  // The audience the compute client asks for too.
  const token = await c.credential.getToken('https://management.azure.com/.default');
  if (!token) throw new Error('the credential gave no token for Resource Manager');
  let url: URL | undefined = new URL(
    `${c.resourceGroupId}/providers/Microsoft.Insights/autoscalesettings?api-version=${AUTOSCALE_API_VERSION}`,
    c.endpoint,
  );
  const target = c.scaleSetId.toLowerCase();
  while (url) {
    let answer = await get(url, token.token, c);
    for (let n = 1; (answer.status === 429 || answer.status >= 500) && n < c.attempts; n++) {
      const wait = Number(answer.retryAfter);
      await sleep(Number.isFinite(wait) && wait >= 0 ? wait * 1000 : 500 * 2 ** (n - 1));
      answer = await get(url, token.token, c);
    }
    if (answer.status !== 200) {
      let code = `HTTP ${answer.status}`;
      let message = '';
      try {
        const e = JSON.parse(answer.body) as { error?: { code?: string; message?: string } };
        code = e.error?.code ?? code;
        message = e.error?.message ?? '';
      } catch {
        // Not JSON: the status says it.
      }
      const hint =
        answer.status === 403
          ? ' (the identity needs Microsoft.Insights/autoscalesettings/read on the resource group: Monitoring Reader)'
          : '';
      throw Object.assign(
        new Error(
          `reading the autoscale settings failed: ${code}${message ? `: ${message.split('\n')[0]}` : ''}${hint}`,
        ),
        {
          code,
          statusCode: answer.status,
        },
      );
    }
    const page = JSON.parse(answer.body) as { value?: AutoscaleSetting[]; nextLink?: string };
    for (const s of page.value ?? [])
      if (s.properties?.enabled !== false && s.properties?.targetResourceUri?.toLowerCase() === target)
        throw Object.assign(
          new Error(
            `autoscale setting ${s.name ?? s.id} is enabled on the scale set: Rampart must be its only autoscaler; disable it (az monitor autoscale update --enabled false) or delete it`,
          ),
          { code: 'AutoscaleEnabled' },
        );
    url = page.nextLink ? new URL(page.nextLink) : undefined;
  }
}
