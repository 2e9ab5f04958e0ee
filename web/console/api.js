// The console's only way to the daemon: the same /api/v1 the CLI uses, with the session cookie
// (HttpOnly, so no script reads it) and the session's CSRF token on every request that changes something.
// Every error becomes an ApiError carrying the sentence and hint the API answered.

export class ApiError extends Error {
        constructor(status, message, hint, body) {
                super(message);
                this.status = status;
                this.hint = hint || "";
                this.body = body || null;
        }
}

// Who is logged in: {user, role, csrf_token, expires_at} from POST/GET /api/v1/session.
export const session = { user: null, role: null, csrf_token: null, expires_at: null };

// Called when the API answers 401 to anything: the session is over.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
        onUnauthorized = fn;
}

export const enc = encodeURIComponent;

export function canWrite() {
        return session.role === "admin" || session.role === "developer";
}

export function isAdmin() {
        return session.role === "admin";
}

function headers(method, hasBody) {
        const hd = { Accept: "application/json" };
        if (hasBody)
                hd["Content-Type"] = "application/json";
        if (method !== "GET" && method !== "HEAD" && session.csrf_token)
                hd["X-CSRF-Token"] = session.csrf_token;
        return hd;
}

async function errorOf(resp) {
        let body = null;
        try {
                body = await resp.json();
        } catch (e) {
                body = null;
        }
        const msg = (body && body.error) || `The daemon answered ${resp.status} ${resp.statusText}.`;
        return new ApiError(resp.status, msg, body && body.hint, body);
}

async function send(method, path, body, opts = {}) {
        let resp;
        try {
                resp = await fetch("/api/v1/" + path, {
                        method,
                        credentials: "same-origin",
                        cache: "no-store",
                        headers: headers(method, body !== undefined),
                        body: body !== undefined ? JSON.stringify(body) : undefined,
                        signal: opts.signal,
                });
        } catch (e) {
                if (e.name === "AbortError")
                        throw e;
                throw new ApiError(0, "The console cannot reach slipwayd.", "Check that it is running, then reload the page.");
        }
        if (resp.status === 401 && !opts.noRedirect) {
                const err = await errorOf(resp);
                onUnauthorized(err);
                throw err;
        }
        if (!resp.ok)
                throw await errorOf(resp);
        return resp;
}

// Settles once the page knows who is logged in.  A view's first requests go out beside GET /session (no
// round trip in front of them), and their answers wait for it, so a view renders knowing the role.
let sessionKnown = Promise.resolve();

// JSON of METHOD /api/v1/PATH (body as JSON when given).
export async function api(method, path, body, opts) {
        const resp = await send(method, path, body, opts);
        const text = await resp.text();
        if (!(opts && opts.noRedirect))
                await sessionKnown;
        return text ? JSON.parse(text) : null;
}

export const get = (path, opts) => api("GET", path, undefined, opts);

// The text of GET /api/v1/PATH and its headers.
export async function getText(path, opts) {
        const resp = await send("GET", path, undefined, opts);
        return { text: await resp.text(), headers: resp.headers };
}

export async function getBlob(path) {
        const resp = await send("GET", path);
        return resp.blob();
}

// Streams GET /api/v1/PATH, calling onText with each decoded piece until the server ends it or signal
// aborts.  Resolves with the number of bytes read.
export async function stream(path, onText, signal) {
        const resp = await send("GET", path, undefined, { signal });
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        let bytes = 0;
        for (;;) {
                const { done, value } = await reader.read();
                if (done)
                        break;
                bytes += value.byteLength;
                onText(dec.decode(value, { stream: true }));
        }
        const rest = dec.decode();
        if (rest)
                onText(rest);
        return bytes;
}

export async function login(name, password) {
        const s = await api("POST", "session", { name, password }, { noRedirect: true });
        Object.assign(session, s);
        return s;
}

export function loadSession() {
        const p = fetchSession();
        sessionKnown = p.then(() => {}, () => {});
        return p;
}

async function fetchSession() {
        try {
                const s = await api("GET", "session", undefined, { noRedirect: true });
                Object.assign(session, s);
                return true;
        } catch (e) {
                if (e.status === 401)
                        return false;
                throw e;
        }
}

export async function logout() {
        try {
                await api("DELETE", "session", undefined, { noRedirect: true });
        } finally {
                Object.assign(session, { user: null, role: null, csrf_token: null, expires_at: null });
        }
}

// Paths of a component's API.
export function compPath(p, c, rest = "") {
        return `projects/${enc(p)}/components/${enc(c)}${rest}`;
}

export function configsPath(p, c, env, key) {
        const base = c ? compPath(p, c, `/environments/${enc(env)}/configs`) : `projects/${enc(p)}/environments/${enc(env)}/configs`;
        return key === undefined ? base : `${base}/${enc(key)}`;
}
