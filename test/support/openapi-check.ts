// A small structural checker for OpenAPI 3.x documents: the parts a client generator or a
// reader trips over. Every $ref resolves, every path parameter is declared, operation ids are
// unique, every operation answers something, every schema is an object.

type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(key in (cur as Json))) return undefined;
    cur = (cur as Json)[key];
  }
  return cur;
}

/** Every problem found, as `where: what`; empty when the document is sound. */
export function checkOpenApi(doc: unknown): string[] {
  const problems: string[] = [];
  if (doc === null || typeof doc !== 'object') return ['the document is not a JSON object'];
  const d = doc as Json;
  if (typeof d.openapi !== 'string' || !/^3\.\d+\.\d+$/.test(d.openapi))
    problems.push(`openapi: "${String(d.openapi)}" is not 3.x.y`);
  const info = d.info as Json | undefined;
  if (!info || typeof info.title !== 'string' || typeof info.version !== 'string')
    problems.push('info: needs title and version');
  const walk = (node: unknown, where: string) => {
    if (Array.isArray(node)) for (const [i, n] of node.entries()) walk(n, `${where}[${i}]`);
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node as Json)) {
        if (k === '$ref') {
          if (typeof v !== 'string' || resolvePointer(doc, v) === undefined)
            problems.push(`${where}: $ref ${String(v)} does not resolve`);
        } else walk(v, `${where}.${k}`);
      }
    }
  };
  walk(doc, '#');
  const ids = new Set<string>();
  const paths = (d.paths ?? {}) as Record<string, Json>;
  if (Object.keys(paths).length === 0) problems.push('paths: none');
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/')) problems.push(`paths.${path}: must start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const method of Object.keys(item)) {
      if (!METHODS.includes(method)) {
        problems.push(`${path}: "${method}" is not an HTTP method`);
        continue;
      }
      const op = item[method] as Json;
      const where = `${method.toUpperCase()} ${path}`;
      if (typeof op.operationId === 'string') {
        if (ids.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} is used twice`);
        ids.add(op.operationId);
      }
      const responses = op.responses as Json | undefined;
      if (!responses || Object.keys(responses).length === 0) problems.push(`${where}: no responses`);
      for (const [status, r] of Object.entries(responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status))
          problems.push(`${where}: response "${status}" is not a status`);
        if (typeof (r as Json).description !== 'string')
          problems.push(`${where} ${status}: needs a description`);
      }
      const params = (op.parameters ?? []) as Json[];
      for (const name of templated)
        if (!params.some((p) => p.in === 'path' && p.name === name && p.required === true))
          problems.push(`${where}: path parameter {${name}} is not declared as required`);
      for (const p of params) {
        if (!['path', 'query', 'header', 'cookie'].includes(String(p.in)))
          problems.push(`${where}: parameter ${String(p.name)} has in "${String(p.in)}"`);
        if (p.in === 'path' && !templated.includes(String(p.name)))
          problems.push(`${where}: path parameter ${String(p.name)} is not in the path`);
        if (typeof p.schema !== 'object')
          problems.push(`${where}: parameter ${String(p.name)} has no schema`);
      }
    }
  }
  const schemas = ((d.components as Json | undefined)?.schemas ?? {}) as Json;
  for (const [name, schema] of Object.entries(schemas))
    if (schema === null || typeof schema !== 'object')
      problems.push(`components.schemas.${name}: not a schema object`);
  return problems;
}
