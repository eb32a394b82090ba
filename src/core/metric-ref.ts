// Metric references as rules write them: `source:expression`. For `scrape` and `netdata`
// sources the expression is a selector `name{label="value",...}`; for `prometheus` it is PromQL.

export interface LabelMatcher {
  readonly label: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

export interface MetricSelector {
  readonly name: string;
  readonly matchers: readonly LabelMatcher[];
}

export interface MetricRef {
  readonly source: string;
  readonly expr: string;
}

const SOURCE_NAME = /^[a-z][a-z0-9-]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Splits `source:expr`. Throws an Error whose message says what is allowed. */
export function parseMetricRef(ref: string): MetricRef {
  const colon = ref.indexOf(':');
  if (colon <= 0) throw new Error(`"${ref}" must be written source:metric, e.g. nodes:cometbft_p2p_peers`);
  const source = ref.slice(0, colon);
  const expr = ref.slice(colon + 1).trim();
  if (!SOURCE_NAME.test(source))
    throw new Error(`"${source}" is not a metric source name (lowercase, digits, -)`);
  if (expr === '') throw new Error(`"${ref}" names no metric after "${source}:"`);
  return { source, expr };
}

/** Parses `name{label="value",other!="x"}` with Prometheus string escapes (\\ \" \n). */
export function parseSelector(expr: string): MetricSelector {
  const brace = expr.indexOf('{');
  const name = (brace < 0 ? expr : expr.slice(0, brace)).trim();
  if (!METRIC_NAME.test(name)) throw new Error(`"${name}" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
  if (brace < 0) return { name, matchers: [] };
  if (!expr.trimEnd().endsWith('}')) throw new Error(`selector "${expr}" has no closing }`);
  const body = expr.slice(brace + 1, expr.trimEnd().length - 1);
  const matchers: LabelMatcher[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < body.length && /\s/.test(body[i]!)) i++;
  };
  while (true) {
    skipSpace();
    if (i >= body.length) break;
    const start = i;
    while (i < body.length && /[a-zA-Z0-9_]/.test(body[i]!)) i++;
    const label = body.slice(start, i);
    if (!LABEL_NAME.test(label)) throw new Error(`selector "${expr}": "${label}" is not a label name`);
    skipSpace();
    let op: '=' | '!=';
    if (body.startsWith('!=', i)) {
      op = '!=';
      i += 2;
    } else if (body[i] === '=') {
      op = '=';
      i += 1;
    } else
      throw new Error(`selector "${expr}": label ${label} needs = or != (regex matchers are not supported)`);
    skipSpace();
    if (body[i] !== '"')
      throw new Error(`selector "${expr}": the value of ${label} must be in double quotes`);
    i++;
    let value = '';
    while (i < body.length && body[i] !== '"') {
      if (body[i] === '\\' && i + 1 < body.length) {
        const next = body[i + 1]!;
        value += next === 'n' ? '\n' : next;
        i += 2;
      } else value += body[i++];
    }
    if (body[i] !== '"') throw new Error(`selector "${expr}": unterminated value for ${label}`);
    i++;
    matchers.push({ label, op, value });
    skipSpace();
    if (body[i] === ',') i++;
    else if (i < body.length) throw new Error(`selector "${expr}": expected , or } after ${label}`);
  }
  return { name, matchers };
}

/** True when a sample's labels satisfy every matcher (an absent label counts as ""). */
export function matchesLabels(
  matchers: readonly LabelMatcher[],
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const m of matchers) {
    const v = Object.hasOwn(labels, m.label) ? labels[m.label]! : '';
    if (m.op === '=' ? v !== m.value : v === m.value) return false;
  }
  return true;
}
