// The panel's JSON API client: the session cookie travels by itself, every state-changing
// request carries the session's CSRF token, and errors become ApiError with the server's
// own sentence ("detail", already in the operator's language) so the operator reads why.

import { _, nameOf } from "./i18n.js";

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

/** A validation problem FastAPI reports (pydantic's error type) in the operator's words. */
function problem(item) {
  const field = (item.loc ?? []).filter((p) => p !== "body" && typeof p === "string").at(-1);
  const ctx = item.ctx ?? {};
  const texts = {
    missing: () => _("this field is required"),
    string_too_short: () => _("too short"),
    string_too_long: () => _("too long: at most {n} characters", { n: ctx.max_length }),
    too_long: () => _("too many: at most {n}", { n: ctx.max_length }),
    too_short: () => _("choose at least {n}", { n: ctx.min_length }),
    greater_than_equal: () => _("at least {n}", { n: ctx.ge }),
    less_than_equal: () => _("at most {n}", { n: ctx.le }),
    int_parsing: () => _("a whole number is needed"),
    literal_error: () => _("not one of the choices"),
    enum: () => _("not one of the choices"),
  };
  const text = (texts[item.type] ?? (() => _("not valid")))();
  return field ? `${nameOf("fields", field) || field}: ${text}` : text;
}

function describe(status, data) {
  const detail = data?.detail;
  if (typeof detail === "string") return detail; // the server's own sentence, in the operator's language
  if (Array.isArray(detail)) return detail.map(problem).join("; ");
  return _("the server answered {status}", { status });
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
    throw new ApiError(0, _("the server cannot be reached; check the connection and try again"));
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, _("the session has ended; please log in again"));
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, describe(response.status, data));
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const put = (path, body) => api("PUT", path, body ?? {});
export const del = (path) => api("DELETE", path);

/**
 * Send ``file`` as the raw body of ``path`` (POST, the name percent-encoded in ``X-File-Name``;
 * docs/panel.md, "Files"); the parsed JSON answer, or ApiError with the server's sentence.
 */
export async function upload(path, file) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/octet-stream",
        "X-CSRF-Token": csrfToken,
        "X-File-Name": encodeURIComponent(file.name.slice(0, 255)),
      },
      body: file,
    });
  } catch {
    throw new ApiError(0, _("the server cannot be reached; check the connection and try again"));
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, _("the session has ended; please log in again"));
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, describe(response.status, data));
  return data;
}
