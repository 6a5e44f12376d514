// The panel's JSON API client: the session cookie travels by itself, every state-changing
// request carries the session's CSRF token, and errors become ApiError with the server's
// own sentence ("detail") so the operator reads why.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** The token changes when the session does (GET /api/me returns the current one). */
export function setCsrfToken(token) {
  if (token) csrfToken = token;
}

/** The login page, coming back here afterwards. */
export function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/panel/login?next=${encodeURIComponent(next)}`);
}

function describe(status, data) {
  const detail = data?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    // FastAPI's validation errors: "phone: value is not a valid phone number"
    return detail
      .map((item) => {
        const where = (item.loc ?? []).filter((p) => p !== "body").join(".");
        return where ? `${where}: ${item.msg}` : String(item.msg);
      })
      .join("; ");
  }
  return `the server answered ${status}`;
}

/** ``method`` ``path`` with an optional JSON ``body``; the parsed JSON answer. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "the server cannot be reached; check the connection and try again");
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "the session has ended; please log in again");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, describe(response.status, data));
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const put = (path, body) => api("PUT", path, body ?? {});
