// History routing: every page has a URL of its own, so any page can be linked and reloaded
// (the server answers index.html for every path outside /api).
import { useEffect, useState } from "preact/hooks";

export type RunTab = "charts" | "media" | "overview" | "system" | "console" | "config" | "artifacts";
export const RUN_TABS: RunTab[] = ["charts", "media", "overview", "system", "console", "config", "artifacts"];

// A project is named "project" (the signed-in key's default namespace, /projects/<p>) or
// "owner/project" (a user's or team's, /owners/<owner>/projects/<p>): names hold no "/".
export type Route =
  | { page: "projects"; query: URLSearchParams }
  | { page: "runs"; project: string; query: URLSearchParams }
  | { page: "run"; project: string; run: string; tab: RunTab }
  | { page: "compare"; project: string; runs: string[] }
  | { page: "artifacts"; project: string; name: string | null; ref: string | null; query: URLSearchParams }
  | { page: "keys" }
  | { page: "team"; team: string }
  | { page: "missing"; path: string };

export function parseRoute(pathname: string, search: string): Route {
  let parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  let owner = "";
  if (parts[0] === "owners" && parts.length >= 4 && parts[2] === "projects" && !parts[1].includes("/")) {
    owner = `${parts[1]}/`;
    parts = parts.slice(2);
  }
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "projects")) {
    return { page: "projects", query };
  }
  if (parts.length === 2 && parts[0] === "settings" && parts[1] === "keys") return { page: "keys" };
  if (parts.length === 2 && parts[0] === "teams") return { page: "team", team: parts[1] };
  if (parts[0] === "projects" && parts.length >= 2 && !parts[1].includes("/")) {
    const project = owner + parts[1];
    if (parts.length === 2) return { page: "runs", project, query };
    if (parts[2] === "compare" && parts.length === 3) {
      const runs = (query.get("runs") ?? "").split(",").filter(Boolean);
      return { page: "compare", project, runs };
    }
    if (parts[2] === "artifacts" && parts.length <= 5) {
      return { page: "artifacts", project, name: parts[3] ?? null, ref: parts[4] ?? null, query };
    }
    if (parts[2] === "runs" && parts.length >= 4 && parts.length <= 5) {
      const tab = (parts[4] ?? "charts") as RunTab;
      if (RUN_TABS.includes(tab)) return { page: "run", project, run: parts[3], tab };
    }
  }
  return { page: "missing", path: pathname };
}

const listeners = new Set<() => void>();

export function navigate(url: string, { replace = false } = {}): void {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listeners.forEach((listener) => listener());
}

function current(): Route {
  return parseRoute(location.pathname, location.search);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

/** Plain links stay links (open in a new tab works); same-tab clicks route without a reload. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element).closest?.("a");
    if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
    scrollTo(0, 0);
  });
}
