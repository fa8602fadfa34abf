import { render } from "preact";
import { App } from "./App";
import { interceptLinks } from "./router";
import "./style.css";

const root = document.getElementById("app")!;
interceptLinks(root);
render(<App />, root);
// When the app first rendered (performance.now()), for bench/ui_bench.py's reference line.
root.dataset.shownAt = String(performance.now());
