// The page's first API request leaves now, while the app's script loads, instead of after it
// ran (100-300 ms sooner on a busy machine). src/prefetch.ts hands the response to the app; a
// URL that differs from the app's own is simply not used (tests/ui count requests). A file,
// not an inline script: the server's Content-Security-Policy allows no inline script. No key
// is sent: the browser's session cookie (or `tether ui`'s local mode) authenticates it.
(function () {
  try {
    var parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    var query = new URLSearchParams(location.search);
    var e = encodeURIComponent;
    var path = null;
    var owner = ""; // As src/router.ts: /owners/<owner>/projects/... is the owner's project.
    if (parts[0] === "owners" && parts[2] === "projects" && parts.length >= 4) {
      owner = "/owners/" + e(parts[1]);
      parts = parts.slice(2);
    }
    if (parts[0] === "projects" && parts.length === 2) {
      // As src/pages/Runs.tsx asks for its first page.
      var params = new URLSearchParams({ order: query.get("order") ?? "-start_time", limit: "100" });
      ["search", "state", "filter"].forEach(function (name) {
        if (query.get(name)) params.set(name, query.get(name));
      });
      path = owner + "/projects/" + e(parts[1]) + "/runs?" + params + "&offset=0";
    } else if (parts[0] === "projects" && parts[2] === "runs" && (parts.length === 4 || parts.length === 5)) {
      path = owner + "/projects/" + e(parts[1]) + "/runs/" + e(parts[3]); // src/pages/RunPage.tsx
    }
    if (path === null) return;
    var headers = { Accept: "application/json" };
    window.__tetherPrefetch = { path: path, response: fetch("/api/v1" + path, { headers: headers }) };
  } catch (error) {
    // No early request: the app asks as usual.
  }
})();
