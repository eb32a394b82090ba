// The OpenAPI 3.1 document of the HTTP API, generated from the route table and the zod schemas
// the handlers validate with (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).

import { z } from 'zod';
import type { Route } from './routes.ts';
import { NAMED_SCHEMAS } from './schemas.ts';

type Json = Record<string, unknown>;

const REF = (id: string) => `#/components/schemas/${id}`;

/** Removes what JSON Schema keeps at a document's top but a Schema Object does not need. */
function clean(schema: unknown): Json {
  const { $schema: _s, $id: _i, ...rest } = schema as Json;
  return rest;
}

export function openApiDocument(
  routes: readonly Route[],
  opts: { version: string; tokenRequired: boolean },
): Json {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  const name = (schema: z.ZodType, fallback: string): string => {
    const known = ids.get(schema);
    if (known) return known;
    ids.set(schema, fallback);
    registry.add(schema, { id: fallback });
    return fallback;
  };
  for (const [id, schema] of Object.entries(NAMED_SCHEMAS)) name(schema, id);
  const capital = (op: string) => op.charAt(0).toUpperCase() + op.slice(1);
  for (const r of routes) {
    if (r.body) name(r.body, `${capital(r.operationId)}Body`);
    if (r.params) name(r.params, `${capital(r.operationId)}Params`);
    if (r.query) name(r.query, `${capital(r.operationId)}Query`);
    for (const [status, spec] of Object.entries(r.responses))
      if (spec.schema) name(spec.schema, `${capital(r.operationId)}${status}`);
  }
  const generated = z.toJSONSchema(registry, { io: 'input', uri: REF, unrepresentable: 'any' }) as {
    schemas: Record<string, Json>;
  };
  const schemas = Object.fromEntries(Object.entries(generated.schemas).map(([id, sc]) => [id, clean(sc)]));

  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const parameters: Json[] = [];
    const addParams = (where: 'path' | 'query', schema: z.ZodObject | undefined) => {
      if (!schema) return;
      const js = schemas[ids.get(schema)!] as { properties?: Record<string, Json>; required?: string[] };
      for (const [prop, propSchema] of Object.entries(js.properties ?? {})) {
        const { description, ...rest } = propSchema;
        parameters.push({
          name: prop,
          in: where,
          required: where === 'path' || (js.required ?? []).includes(prop),
          ...(description ? { description } : {}),
          schema: rest,
        });
      }
    };
    addParams('path', r.params);
    addParams('query', r.query);
    if (r.write)
      parameters.push({
        name: 'X-Rampart-Caller',
        in: 'header',
        required: false,
        description:
          'Who asks, recorded with the request and the action (e.g. your name); the client address is added. Default "api client".',
        schema: { type: 'string', pattern: '^[A-Za-z0-9 ._@-]{1,64}$' },
      });
    const responses: Record<string, Json> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      const contentType = spec.contentType ?? 'application/json';
      responses[status] = {
        description: spec.description,
        ...(spec.schema
          ? { content: { [contentType]: { schema: { $ref: REF(ids.get(spec.schema)!) } } } }
          : spec.contentType
            ? { content: { [contentType]: { schema: { type: 'string' } } } }
            : {}),
      };
    }
    const bodyOptional = r.body?.safeParse(undefined).success === true;
    const operation: Json = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: !bodyOptional,
              content: { 'application/json': { schema: { $ref: REF(ids.get(r.body)!) } } },
            },
          }
        : {}),
      responses,
      security: r.auth ? [{ bearer: [] }] : [],
    };
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = operation;
  }

  paths['/openapi.json'] = {
    get: {
      operationId: 'getOpenApi',
      summary: 'This document (no token needed: it describes the API, not the fleet)',
      tags: ['operations'],
      responses: {
        200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
      },
      security: [],
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Rampart controller API',
      version: opts.version,
      description:
        'Reads the fleet (pools, nodes, decisions with reasons, actions with outcomes, snapshots, validators) and asks the acting controller for pause, resume, a size set by hand and snapshots. ' +
        (opts.tokenRequired
          ? 'Every call but /healthz and /openapi.json needs `Authorization: Bearer <token from controller.api.tokenFile>`.'
          : 'This controller listens on loopback without a token; with controller.api.tokenFile set, every call but /healthz and /openapi.json needs `Authorization: Bearer <token>`.') +
        " Every call needs a Host the API answers to (loopback, the listen address, controller.api.allowedHosts; any on 0.0.0.0 with a token), else 421; every write is sent as `Content-Type: application/json` (else 415), with no Origin or the API's own (else 403).",
    },
    tags: [
      { name: 'fleet', description: 'Pools, nodes, live series' },
      { name: 'history', description: 'Decisions, actions, events' },
      { name: 'snapshots', description: 'Snapshot sets' },
      { name: 'validators', description: 'Validators, standbys, failover' },
      { name: 'writes', description: 'Asked of the acting controller; each recorded with its caller' },
      { name: 'operations', description: "Rampart's own metrics and liveness" },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token in controller.api.tokenFile' },
      },
    },
  };
}
