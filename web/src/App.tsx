import { useEffect, useState } from "preact/hooks";
import { onUnauthorized, projectPath } from "./api";
import { ArtifactsPage } from "./artifacts/ArtifactsPage";
import { KeyForm } from "./components";
import { ComparePage } from "./pages/Compare";
import { KeysPage } from "./pages/Keys";
import { ProjectsPage } from "./pages/Projects";
import { RunPage } from "./pages/RunPage";
import { RunsPage } from "./pages/Runs";
import { TeamPage } from "./pages/Team";
import { type Route, useRoute } from "./router";

function Breadcrumbs({ route }: { route: Route }) {
  if (route.page === "projects" || route.page === "missing") return null;
  if (route.page === "keys" || route.page === "team") return null;
  return (
    <>
      <span class="sep">/</span>
      <a href={projectPath(route.project)}>{route.project}</a>
      {route.page === "run" && (
        <>
          <span class="sep">/</span>
          <span>{route.run}</span>
        </>
      )}
      {route.page === "compare" && (
        <>
          <span class="sep">/</span>
          <span>compare</span>
        </>
      )}
      {route.page === "artifacts" ? (
        <>
          <span class="sep">/</span>
          <a href={`${projectPath(route.project)}/artifacts`}>artifacts</a>
        </>
      ) : (
        <a class="project-nav" href={`${projectPath(route.project)}/artifacts`}>
          artifacts
        </a>
      )}
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "projects":
      return <ProjectsPage query={route.query} />;
    case "runs":
      return <RunsPage key={route.project} project={route.project} query={route.query} />;
    case "run":
      return <RunPage key={`${route.project}/${route.run}`} project={route.project} run={route.run} tab={route.tab} />;
    case "compare":
      return <ComparePage project={route.project} runs={route.runs} />;
    case "artifacts":
      return <ArtifactsPage project={route.project} name={route.name} reference={route.ref} query={route.query} />;
    case "keys":
      return <KeysPage />;
    case "team":
      return <TeamPage key={route.team} team={route.team} />;
    case "missing":
      return (
        <div class="empty-page">
          <h1>No such page</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <a href="/">See the projects.</a>
          </p>
        </div>
      );
  }
}

export function App() {
  const route = useRoute();
  const [needKey, setNeedKey] = useState(false);
  // Bumped when a key is saved: every page mounts again and fetches with it.
  const [generation, setGeneration] = useState(0);
  useEffect(() => onUnauthorized(() => setNeedKey(true)), []);
  return (
    <>
      <header class="top">
        <a class="brand" href="/">
          <span class="logo" aria-hidden="true" />
          tether
        </a>
        <Breadcrumbs route={route} />
        <a class="settings-link" href="/settings/keys">
          API keys
        </a>
      </header>
      <main key={generation}>
        <Page route={route} />
      </main>
      {needKey && (
        <KeyForm
          onSaved={() => {
            setNeedKey(false);
            setGeneration((g) => g + 1);
          }}
        />
      )}
    </>
  );
}
