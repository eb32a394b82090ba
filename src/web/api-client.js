// The dashboard's client of the controller's HTTP API: the bearer token (kept in this tab's
// session storage only, never in the page), JSON in and out, and errors with the API's words.

const TOKEN_KEY = 'rampart-token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class ApiClient {
  /** onUnauthorized(reason): called when the API wants a (different) token. */
  constructor(onUnauthorized) {
    this.onUnauthorized = onUnauthorized;
  }

  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  async request(method, path, body) {
    const headers = { accept: 'application/json', 'x-rampart-caller': 'dashboard' };
    const token = this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    // Every write is JSON, even one without a body: the API refuses any other, since a page on
    // another site can send those without a preflight.
    if (method !== 'GET') headers['content-type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'the controller does not answer (stopped, or the network is down); retrying');
    }
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    if (response.status === 401) {
      this.onUnauthorized(parsed?.error ?? 'this controller needs a token');
      throw new ApiError(401, parsed?.error ?? 'a token is needed');
    }
    if (!response.ok && response.status !== 202 && response.status !== 409)
      throw new ApiError(response.status, parsed?.error ?? `HTTP ${response.status}`);
    return { status: response.status, body: parsed };
  }

  async get(path) {
    return (await this.request('GET', path)).body;
  }

  post(path, body) {
    return this.request('POST', path, body);
  }
}
