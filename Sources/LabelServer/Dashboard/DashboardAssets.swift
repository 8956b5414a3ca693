/// The dashboard's stylesheet and script, compiled into the binary: a copied binary serves the
/// whole dashboard, and the page needs no network but the labeler's (no CDN, no web fonts: the
/// system's own fonts).
enum DashboardAssets {
    static let stylePath = "/dashboard/assets/style.css"
    static let scriptPath = "/dashboard/assets/app.js"
    /// How often the overview asks for new figures.
    static let pollMilliseconds = 2000

    static let style = #"""
        :root { color-scheme: light dark; --fg: #1d2430; --muted: #667085; --bg: #f6f7f9; --card: #fff;
          --line: #d0d5dd; --accent: #2563eb; --bad: #b42318; --good: #067647; }
        @media (prefers-color-scheme: dark) { :root { --fg: #e4e7ec; --muted: #98a2b3; --bg: #101418;
          --card: #1a2027; --line: #344054; --accent: #60a5fa; --bad: #f97066; --good: #47cd89; } }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
          background: var(--bg); }
        header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: var(--card);
          border-bottom: 1px solid var(--line); }
        header h1 { font-size: 18px; margin: 0; }
        nav { display: flex; align-items: center; gap: 16px; flex: 1; }
        nav a { color: var(--fg); text-decoration: none; padding: 4px 2px; }
        nav a.active { border-bottom: 2px solid var(--accent); }
        nav .logout { margin-left: auto; }
        main { padding: 20px 24px; max-width: 1400px; }
        h2 { font-size: 16px; margin: 0 0 12px; }
        code, pre, .snippet { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12.5px; }
        button { font: inherit; padding: 5px 12px; border-radius: 6px; border: 1px solid var(--line);
          background: var(--card); color: var(--fg); cursor: pointer; }
        button[type=submit] { border-color: var(--accent); }
        button.negate { border-color: var(--bad); color: var(--bad); }
        input, textarea { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px;
          background: var(--card); color: var(--fg); }
        textarea { width: 100%; font-family: ui-monospace, Menlo, monospace; }
        label { display: inline-flex; flex-direction: column; gap: 2px; margin: 0 12px 8px 0; color: var(--muted); }
        .login { max-width: 380px; margin: 60px auto; background: var(--card); padding: 24px;
          border: 1px solid var(--line); border-radius: 10px; }
        .login label { display: flex; }
        label.choice { flex-direction: row; align-items: center; gap: 4px; color: var(--fg); }
        .notice { max-width: 640px; margin: 60px auto; background: var(--card); padding: 24px;
          border: 1px solid var(--line); border-radius: 10px; }
        .error { color: var(--bad); }
        .message { color: var(--good); }
        .muted { color: var(--muted); }
        .stats { display: flex; gap: 16px; margin-bottom: 16px; }
        .stat { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 18px; }
        .stat .value { display: block; font-size: 26px; font-weight: 600; }
        .stat .name { color: var(--muted); }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; }
        .chart { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px; }
        .chart figcaption { display: flex; justify-content: space-between; font-weight: 600; }
        .chart .now { font-weight: 400; color: var(--muted); }
        .chart svg { width: 100%; height: 150px; display: block; }
        .chart svg .grid { stroke: var(--line); stroke-width: 1; }
        .chart svg text { fill: var(--muted); font-size: 11px; }
        .chart svg polyline { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
        .chart svg .dot { stroke: none; }
        .s0.dot { fill: #2563eb; } .s1.dot { fill: #dc6803; } .s2.dot { fill: #079455; } .s3.dot { fill: #c11574; }
        .s4.dot { fill: #7a5af8; } .s5.dot { fill: #0e9384; } .s6.dot { fill: #b54708; } .s7.dot { fill: #667085; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; color: var(--muted); font-size: 12px; }
        .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
        .s0 { stroke: #2563eb; background: #2563eb; } .s1 { stroke: #dc6803; background: #dc6803; }
        .s2 { stroke: #079455; background: #079455; } .s3 { stroke: #c11574; background: #c11574; }
        .s4 { stroke: #7a5af8; background: #7a5af8; } .s5 { stroke: #0e9384; background: #0e9384; }
        .s6 { stroke: #b54708; background: #b54708; } .s7 { stroke: #667085; background: #667085; }
        .search, .apply form, .playground form { background: var(--card); border: 1px solid var(--line);
          border-radius: 10px; padding: 12px; margin-bottom: 12px; }
        .apply { margin-bottom: 12px; }
        article.label { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
          padding: 10px 14px; margin-bottom: 10px; }
        article.label h3 { font-size: 14px; margin: 0; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
        article.label .val { font-family: ui-monospace, Menlo, monospace; font-size: 14px; }
        article.label .state { font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid var(--line); }
        article.applied .state { color: var(--good); border-color: var(--good); }
        article.negated .state { color: var(--bad); border-color: var(--bad); }
        article.label .uri { color: var(--accent); word-break: break-all; font-weight: 400; }
        .meta { color: var(--muted); margin: 2px 0 6px; }
        .label-action, .report-action { display: flex; gap: 8px; margin: 6px 0; flex-wrap: wrap; }
        article.report { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
          padding: 10px 14px; margin-bottom: 10px; }
        article.report h3 { font-size: 14px; margin: 0; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
        article.report .state { font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid var(--line); }
        blockquote { margin: 6px 0; padding-left: 10px; border-left: 3px solid var(--line); }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { color: var(--muted); font-weight: 500; }
        tr.tripped td { color: var(--bad); }
        pre { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px; white-space: pre-wrap; }
        """#

    /// Polls the overview endpoint, keeps the last points in the page, and draws each chart as
    /// an SVG of polylines. Rates are differences of totals over the time between two polls,
    /// so a page opened late or a missed poll gives right rates from the next one.
    static let script = #"""
        "use strict";
        (function () {
          const SVG = "http://www.w3.org/2000/svg";
          const KEEP = 90;
          const charts = document.getElementById("charts");
          if (!charts) return;
          const poll = Number(charts.dataset.poll) || 2000;
          const series = {};  // chart id -> { name -> [values] }
          const times = [];
          let previous = null;

          function push(chart, name, value) {
            const all = series[chart] || (series[chart] = {});
            const values = all[name] || (all[name] = new Array(times.length - 1).fill(null));
            values.push(value);
          }
          function trim() {
            while (times.length > KEEP) {
              times.shift();
              for (const chart of Object.values(series)) for (const v of Object.values(chart)) v.shift();
            }
          }
          function rates(now, before, dt) {
            const out = {};
            for (const [k, v] of Object.entries(now)) out[k] = Math.max(0, (v - (before[k] || 0)) / dt);
            return out;
          }
          function pad(chart) {
            for (const values of Object.values(series[chart] || {}))
              while (values.length < times.length) values.push(null);
          }

          function record(o) {
            document.getElementById("label-count").textContent = o.storedLabels.toLocaleString();
            document.getElementById("cursor").textContent = o.cursor === null ? "–" : String(o.cursor);
            document.getElementById("events-total").textContent = o.events.toLocaleString();
            if (previous && o.time > previous.time) {
              const dt = o.time - previous.time;
              times.push(o.time);
              push("events", "events", Math.max(0, (o.events - previous.events) / dt));
              for (const [k, v] of Object.entries(rates(o.labelsByValue, previous.labelsByValue, dt))) push("labels", k, v);
              push("lag", "lag", o.lagSeconds);
              for (const [k, v] of Object.entries(rates(o.ruleHits, previous.ruleHits, dt))) push("rules", k, v);
              const commits = o.commits - previous.commits;
              push("commit", "mean commit", commits > 0 ? 1000 * (o.commitSeconds - previous.commitSeconds) / commits : null);
              push("subscribers", "subscribers", o.subscribers);
              push("queues", "scheduler", o.schedulerQueue);
              push("queues", "label queue", o.labelQueue);
              for (const id of Object.keys(series)) pad(id);
              trim();
              for (const figure of charts.querySelectorAll("figure.chart")) draw(figure);
            }
            previous = o;
          }

          function el(name, attributes) {
            const node = document.createElementNS(SVG, name);
            for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
            return node;
          }
          function format(v) {
            if (v === null || v === undefined) return "–";
            if (v >= 100) return Math.round(v).toLocaleString();
            if (v >= 10) return v.toFixed(1);
            return v.toFixed(2);
          }

          function draw(figure) {
            const id = figure.dataset.chart;
            const unit = figure.dataset.unit;
            const svg = figure.querySelector("svg");
            const legend = figure.querySelector(".legend");
            // The busiest series first; at most eight are drawn.
            const names = Object.keys(series[id] || {})
              .map((n) => [n, series[id][n].reduce((a, v) => a + (v || 0), 0)])
              .sort((a, b) => b[1] - a[1]).slice(0, 8).map((p) => p[0]);
            let max = 0;
            for (const n of names) for (const v of series[id][n]) if (v !== null && v > max) max = v;
            max = max > 0 ? max * 1.1 : 1;
            while (svg.firstChild) svg.removeChild(svg.firstChild);
            const W = 600, H = 150, top = 14;
            for (const f of [0, 0.5, 1]) {
              const y = top + (H - top - 2) * (1 - f);
              svg.appendChild(el("line", { x1: 0, x2: W, y1: y, y2: y, class: "grid" }));
            }
            const label = el("text", { x: 4, y: 11 });
            label.textContent = format(max) + " " + unit;
            svg.appendChild(label);
            // The points so far span the width; past KEEP points the oldest scroll off the left.
            const step = W / Math.max(1, times.length - 1);
            const offset = times.length > 1 ? 0 : W;
            legend.textContent = "";
            names.forEach((n, i) => {
              const points = [];
              series[id][n].forEach((v, j) => {
                if (v === null) return;
                points.push([(offset + j * step).toFixed(1), (top + (H - top - 2) * (1 - v / max)).toFixed(1)]);
              });
              const line = el("polyline", { points: points.map((p) => p.join(",")).join(" "), class: "s" + (i % 8) });
              line.dataset.series = n;
              svg.appendChild(line);
              // The newest point, so a series with one point so far shows too.
              if (points.length) {
                const last = points[points.length - 1];
                svg.appendChild(el("circle", { cx: last[0], cy: last[1], r: 3, class: "s" + (i % 8) + " dot" }));
              }
              const values = series[id][n];
              const item = document.createElement("span");
              const swatch = document.createElement("i");
              swatch.className = "s" + (i % 8);
              item.appendChild(swatch);
              item.appendChild(document.createTextNode(n + " " + format(values[values.length - 1]) + " " + unit));
              legend.appendChild(item);
            });
            figure.dataset.points = String(times.length);
            figure.dataset.updates = String(Number(figure.dataset.updates || 0) + 1);
          }

          const status = document.getElementById("poll-status");
          async function tick() {
            try {
              const response = await fetch("/dashboard/api/overview", { credentials: "same-origin", cache: "no-store" });
              if (response.status === 401) { status.textContent = "Logged out: reload the page to log in."; return; }
              if (!response.ok) throw new Error("HTTP " + response.status);
              record(await response.json());
              status.textContent = "Updated " + new Date().toLocaleTimeString() + ", every " + poll / 1000 + " s.";
            } catch (e) {
              status.textContent = "The labeler did not answer (" + e.message + "); trying again.";
            }
            setTimeout(tick, poll);
          }
          tick();
        })();
        """#
}
