// The run's overview: the code it ran (commit, dirty flag, diff), the command, the software and
// the hardware, and the installed packages, from its environment (GET .../environment).
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type EnvironmentAnswer, type Json, type RunDetail, runPath } from "../api";
import { ErrorBox, Loading } from "../components";
import { formatBytes, formatValue } from "../format";
import { useResource } from "../hooks";
import { KeyValueTable } from "./RunPage";

type Section = Record<string, Json>;

// Shown in cards of their own; any other section is listed as it is.
const SHOWN = new Set([
  "git",
  "command",
  "launcher",
  "python",
  "torch",
  "platform",
  "cpu",
  "memory",
  "gpu",
  "packages",
]);

function section(environment: Record<string, Json>, name: string): Section | null {
  const value = environment[name];
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
}

const text = (value: Json | undefined): string => (value == null ? "" : formatValue(value));

function Fact({ name, children }: { name: string; children: ComponentChildren }) {
  if (children == null || children === "") return null;
  return (
    <tr data-fact={name}>
      <th>{name}</th>
      <td>{children}</td>
    </tr>
  );
}

function Card({ title, name, children }: { title: string; name: string; children: ComponentChildren }) {
  return (
    <section class="card" data-card={name}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

function CopyButton({ value }: { value: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard API (an insecure origin): select-and-copy through a hidden text area.
      const area = document.createElement("textarea");
      area.value = value;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button class="link small copy" onClick={copy} title="copy to the clipboard">
      {copied ? "copied" : "copy"}
    </button>
  );
}

function DiffView({ diff }: { diff: string }) {
  const lines = diff.replace(/\n$/, "").split("\n");
  return (
    <pre class="diff-view" data-lines={lines.length}>
      {lines.map((line) => {
        let kind = "";
        if (line.startsWith("diff --git") || line.startsWith("index ")) kind = "meta";
        else if (line.startsWith("+++") || line.startsWith("---")) kind = "file";
        else if (line.startsWith("@@")) kind = "hunk";
        else if (line.startsWith("+")) kind = "add";
        else if (line.startsWith("-")) kind = "del";
        return <div class={kind ? `dl ${kind}` : "dl"}>{line || " "}</div>;
      })}
    </pre>
  );
}

function GitCard({ git }: { git: Section | null }) {
  const [showDiff, setShowDiff] = useState(false);
  if (!git) {
    return (
      <Card title="code" name="git">
        <p class="muted">Not in a git repository (or git was not found).</p>
      </Card>
    );
  }
  const commit = typeof git.commit === "string" ? git.commit : null;
  const diff = typeof git.diff === "string" ? git.diff : "";
  const dirty = git.dirty;
  return (
    <Card title="code" name="git">
      <table class="simple facts-table">
        <tbody>
          <Fact name="commit">
            {commit && (
              <>
                <code class="commit" title={commit}>
                  {commit}
                </code>{" "}
                <CopyButton value={commit} />
              </>
            )}
          </Fact>
          <Fact name="branch">{text(git.branch)}</Fact>
          <Fact name="state">
            {dirty === true ? (
              <span class="badge dirty" data-dirty="true">
                dirty: uncommitted changes
              </span>
            ) : dirty === false ? (
              <span class="badge clean" data-dirty="false">
                clean
              </span>
            ) : (
              <span class="muted">unknown</span>
            )}
            {diff && (
              <button class="link small" onClick={() => setShowDiff(!showDiff)}>
                {showDiff ? "hide the diff" : "show the diff"}
              </button>
            )}
          </Fact>
          <Fact name="remote">{text(git.remote)}</Fact>
          <Fact name="root">{text(git.root)}</Fact>
        </tbody>
      </table>
      {showDiff && (
        <div class="diff-box">
          {git.diff_truncated === true && (
            <p class="muted small">
              The diff is longer than what the run's record keeps; the run folder's <code>git.diff</code> has up to 1
              MiB.
            </p>
          )}
          <DiffView diff={diff} />
        </div>
      )}
    </Card>
  );
}

function shellJoin(argv: Json[]): string {
  return argv
    .map((arg) => {
      const s = String(arg);
      return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`;
    })
    .join(" ");
}

function CommandCard({ command, launcher }: { command: Section | null; launcher: Section | null }) {
  const argv = Array.isArray(command?.argv) ? command.argv : null;
  return (
    <Card title="command" name="command">
      <table class="simple facts-table">
        <tbody>
          <Fact name="command">{argv && <code class="command-line">{shellJoin(argv)}</code>}</Fact>
          <Fact name="cwd">{command?.cwd != null && <code>{text(command.cwd)}</code>}</Fact>
          <Fact name="executable">{text(command?.executable)}</Fact>
          {launcher &&
            Object.entries(launcher).map(([key, value]) => (
              <Fact name={key}>
                <code>{text(value)}</code>
              </Fact>
            ))}
        </tbody>
      </table>
    </Card>
  );
}

function SoftwareCard({ environment }: { environment: Record<string, Json> }) {
  const python = section(environment, "python");
  const torch = section(environment, "torch");
  const platform = section(environment, "platform");
  return (
    <Card title="software" name="software">
      <table class="simple facts-table">
        <tbody>
          <Fact name="python">
            {python && [text(python.version), text(python.implementation)].filter(Boolean).join(" ")}
          </Fact>
          <Fact name="executable">{text(python?.executable)}</Fact>
          <Fact name="torch">
            {torch &&
              [
                text(torch.version),
                torch.cuda_version ? `CUDA ${text(torch.cuda_version)}` : "",
                torch.cuda_available === true ? "(CUDA available)" : torch.cuda_available === false ? "(no CUDA)" : "",
              ]
                .filter(Boolean)
                .join(" ")}
          </Fact>
          <Fact name="platform">
            {platform &&
              [platform.system, platform.release, platform.machine]
                .filter((v) => v != null)
                .map(text)
                .join(" ")}
          </Fact>
        </tbody>
      </table>
    </Card>
  );
}

function HardwareCard({ environment }: { environment: Record<string, Json> }) {
  const cpu = section(environment, "cpu");
  const memory = section(environment, "memory");
  const gpu = section(environment, "gpu");
  const platform = section(environment, "platform");
  const devices = Array.isArray(gpu?.devices) ? (gpu.devices as Section[]) : [];
  const total = memory?.total_bytes;
  return (
    <Card title="hardware" name="hardware">
      <table class="simple facts-table">
        <tbody>
          <Fact name="host">{text(platform?.hostname)}</Fact>
          <Fact name="CPU">
            {cpu && [text(cpu.model), cpu.count != null ? `× ${text(cpu.count)} cores` : ""].filter(Boolean).join(" ")}
          </Fact>
          <Fact name="memory">{typeof total === "number" ? formatBytes(total) : ""}</Fact>
          <Fact name="GPUs">{gpu && (devices.length ? `${devices.length}` : <span class="muted">none</span>)}</Fact>
          <Fact name="driver">{text(gpu?.driver_version)}</Fact>
          <Fact name="CUDA">{text(gpu?.cuda_version)}</Fact>
        </tbody>
      </table>
      {devices.length > 0 && (
        <table class="simple gpus">
          <thead>
            <tr>
              <th class="num">#</th>
              <th>GPU</th>
              <th class="num">memory</th>
            </tr>
          </thead>
          <tbody>
            {devices.map((device, i) => (
              <tr data-gpu={text(device.index ?? i)}>
                <td class="num">{text(device.index ?? i)}</td>
                <td>{text(device.name)}</td>
                <td class="num">
                  {typeof device.memory_total_bytes === "number" ? formatBytes(device.memory_total_bytes) : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function PackagesCard({ packages }: { packages: Section | null }) {
  const [filter, setFilter] = useState("");
  const all = Object.entries(packages ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const needle = filter.trim().toLowerCase();
  const shown = needle ? all.filter(([name]) => name.toLowerCase().includes(needle)) : all;
  return (
    <Card title="packages" name="packages">
      {!packages ? (
        <p class="muted">Not recorded.</p>
      ) : (
        <>
          <div class="toolbar">
            <input
              type="search"
              placeholder="filter packages"
              value={filter}
              onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
            />
            <span class="muted" data-count={shown.length}>
              {needle ? `${shown.length} of ${all.length}` : `${all.length} installed`}
            </span>
          </div>
          <div class="packages-scroll">
            <table class="simple packages">
              <tbody>
                {shown.map(([name, version]) => (
                  <tr data-package={name}>
                    <th>{name}</th>
                    <td>{text(version)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Card>
  );
}

export function Overview({ project, run }: { project: string; run: RunDetail }) {
  const { data, error, reload } = useResource<EnvironmentAnswer>(`${runPath(project, run.id)}/environment`);
  // Sections arrive while the run starts (git and packages are read off the training thread):
  // fetch again when the run's summary of them changes, not on every refresh of the run.
  const summary = JSON.stringify(run.environment ?? {});
  const seen = useRef(summary);
  useEffect(() => {
    if (seen.current === summary) return;
    seen.current = summary;
    reload();
  }, [summary]);
  if (!data)
    return error ? (
      <ErrorBox error={error} what="the environment" retry={reload} />
    ) : (
      <Loading what="the environment" />
    );
  const environment = data.environment;
  if (!Object.keys(environment).length) {
    return <p class="muted quiet">This run recorded no environment (a tether older than this server made it).</p>;
  }
  const others = Object.entries(environment).filter(([name]) => !SHOWN.has(name));
  return (
    <div class="overview">
      <GitCard git={section(environment, "git")} />
      <CommandCard command={section(environment, "command")} launcher={section(environment, "launcher")} />
      <SoftwareCard environment={environment} />
      <HardwareCard environment={environment} />
      <PackagesCard packages={section(environment, "packages")} />
      {others.map(([name, value]) => (
        <section class="card" data-card={name}>
          <KeyValueTable title={name} values={section(environment, name) ?? { value }} />
        </section>
      ))}
    </div>
  );
}
