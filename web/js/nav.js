// Routing and who is logged in, shared by the views (kept apart from main.js to avoid import cycles).
import { storedAccount } from "./api.js";

/** The current route: "#/files?path=/a" → {name: "files", params: URLSearchParams}. */
export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, query = ""] = raw.split("?");
  return { name: name || "files", params: new URLSearchParams(query) };
}

let router = () => {};
export function setRouter(fn) {
  router = fn;
}

/** Go to a view, e.g. go("files", {path: "/a"}). Re-renders when already there. */
export function go(name, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const target = `#/${name}${query.toString() ? `?${query}` : ""}`;
  if (location.hash === target) router();
  else location.hash = target;
}

export const session = {
  account: storedAccount(),
  isAdmin: sessionStorage.getItem("docstore.isAdmin") === "1",
  /** Set by main.js: load the account after a login and show the navigation. */
  signedIn: async () => {},
};
