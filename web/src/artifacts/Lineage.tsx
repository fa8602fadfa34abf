// A version's lineage as a small layered graph in SVG: the run that logged it (left), the
// version (middle), the runs that used it (right). Runs are links to their pages.
import { runPath } from "../api";
import type { RunRef } from "./api";

const NODE_W = 190;
const NODE_H = 34;
const GAP_Y = 12;
const GAP_X = 70;
const PAD = 6;
const MAX_CHARS = 24;
/** Consumers drawn; past it one node says how many more (the graph stays a screen high). */
export const MAX_CONSUMERS = 12;

interface Node {
  key: string;
  x: number;
  y: number;
  label: string;
  title: string;
  kind: "producer" | "version" | "consumer" | "none";
  href?: string;
}

function clip(text: string): string {
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text;
}

/** Nodes of one layer, stacked and centred on the graph's height. */
function column<T>(items: T[], height: number, make: (item: T, y: number) => Node): Node[] {
  const own = items.length * NODE_H + (items.length - 1) * GAP_Y;
  const top = PAD + (height - 2 * PAD - own) / 2;
  return items.map((item, i) => make(item, top + i * (NODE_H + GAP_Y)));
}

function runNode(project: string, run: RunRef, x: number, y: number, kind: Node["kind"]): Node {
  return {
    key: `${kind}-${run.id}`,
    x,
    y,
    label: clip(run.name || run.id),
    title: `${kind === "producer" ? "logged by" : "used by"} run ${run.name || run.id} (${run.id})`,
    kind,
    href: runPath(project, run.id),
  };
}

export function Lineage({
  project,
  name,
  version,
  producer,
  consumers,
}: {
  project: string;
  name: string;
  version: string;
  producer: RunRef | null;
  consumers: RunRef[];
}) {
  const drawn = consumers.slice(0, MAX_CONSUMERS);
  const more = consumers.length - drawn.length;
  const rows = Math.max(1, drawn.length + (more > 0 ? 1 : 0));
  const height = 2 * PAD + rows * NODE_H + (rows - 1) * GAP_Y;
  const width = 2 * PAD + 3 * NODE_W + 2 * GAP_X;
  const xs = [PAD, PAD + NODE_W + GAP_X, PAD + 2 * (NODE_W + GAP_X)];
  const left = column([producer], height, (run, y) =>
    run
      ? runNode(project, run, xs[0], y, "producer")
      : {
          key: "producer-none",
          x: xs[0],
          y,
          label: "run deleted",
          title: "the run that logged it was deleted",
          kind: "none",
        },
  );
  const middle = column([version], height, (v, y) => ({
    key: "version",
    x: xs[1],
    y,
    label: clip(`${name}:${v}`),
    title: `${name}:${v}`,
    kind: "version" as const,
  }));
  const right = consumers.length
    ? column(more > 0 ? [...drawn, null] : drawn, height, (run, y) =>
        run
          ? runNode(project, run, xs[2], y, "consumer")
          : {
              key: "consumer-more",
              x: xs[2],
              y,
              label: `+${more} more runs`,
              title: `${more} more runs used this version`,
              kind: "none" as const,
            },
      )
    : column([null], height, (_, y) => ({
        key: "consumer-none",
        x: xs[2],
        y,
        label: "no run used it yet",
        title: "no run has called use_artifact() on this version",
        kind: "none" as const,
      }));
  const edge = (from: Node, to: Node) => {
    const x1 = from.x + NODE_W;
    const y1 = from.y + NODE_H / 2;
    const x2 = to.x;
    const y2 = to.y + NODE_H / 2;
    const bend = GAP_X / 2;
    return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
  };
  const edges = [
    ...(producer ? [edge(left[0], middle[0])] : []),
    ...(consumers.length ? right.map((node) => edge(middle[0], node)) : []),
  ];
  const box = (node: Node) => {
    const shape = (
      <g class={`lineage-node lineage-${node.kind}`} data-node={node.kind}>
        <title>{node.title}</title>
        <rect x={node.x} y={node.y} width={NODE_W} height={NODE_H} rx={6} />
        <text x={node.x + NODE_W / 2} y={node.y + NODE_H / 2} dominant-baseline="central" text-anchor="middle">
          {node.label}
        </text>
      </g>
    );
    return node.href ? (
      <a key={node.key} href={node.href}>
        {shape}
      </a>
    ) : (
      <g key={node.key}>{shape}</g>
    );
  };
  return (
    <svg
      class="lineage"
      role="img"
      aria-label={`lineage of ${name}:${version}`}
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
    >
      <defs>
        <marker id="lineage-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L8,4 L0,8 z" class="lineage-arrowhead" />
        </marker>
      </defs>
      {edges.map((d) => (
        <path class="lineage-edge" d={d} marker-end="url(#lineage-arrow)" />
      ))}
      {[...left, ...middle, ...right].map(box)}
    </svg>
  );
}
