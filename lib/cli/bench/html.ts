/**
 * The `--html` report: one page that opens with no network. uPlot's dist file and stylesheet
 * are inlined from node_modules, the figures are embedded as JSON, and the page draws the
 * throughput over time of each stack and their latency distributions on shared charts.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { SAMPLE_MS } from './workloads.js';
import { formatTable, type Run, type Summary } from './report.js';

interface ReportDocument {
  utcp: Summary | null;
  kernel: Summary | null;
  kernel_offloads: Summary | null;
  utcp_same?: Summary;
  kernel_same?: Summary;
  env: Record<string, unknown>;
  problems: string[];
  runs: Run[];
}

/** A JSON text safe inside a <script> element. */
function embed(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function renderHtml(document: ReportDocument): Promise<string> {
  const require = createRequire(import.meta.url);
  const script = await readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const style = await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

  const table = formatTable([
    ['kernel', document.kernel],
    ['kernel_offloads', document.kernel_offloads],
    ['utcp', document.utcp],
  ]);
  const sameTable = document.utcp_same
    ? formatTable([
        ['kernel', document.kernel_same ?? null],
        ['utcp', document.utcp_same],
      ])
    : '';
  const series = document.runs.map((run) => ({
    name: `${run.stack} (${run.placement})`,
    workload: run.workload,
    series: run.result.series,
    curve: run.result.latency?.curve ?? null,
  }));

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>utcp bench ${escapeHtml(String(document.env.date))}</title>
<style>${style.replace(/<\//g, '<\\/')}</style>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
pre { background: #f4f4f4; padding: 1em; }
h2 { margin-top: 2em; }
</style>
</head>
<body>
<h1>utcp bench</h1>
<p>${escapeHtml(
    `${String(document.env.date)} · Linux ${String(document.env.kernel)} · ` +
      `${String(document.env.cpu_model)} · link ${String(document.env.link)} · ` +
      `MTU ${String(document.env.mtu)} · placement ${String(document.env.placement)} · ` +
      `Node ${String(document.env.node)}`,
  )}</p>
<pre>${escapeHtml(table)}</pre>
${sameTable ? `<p>Latency with client and peer on one CPU:</p><pre>${escapeHtml(sameTable)}</pre>` : ''}
${document.problems.length > 0 ? `<p>Problems:</p><pre>${escapeHtml(document.problems.join('\n'))}</pre>` : ''}
<div id="charts"></div>
<details><summary>Environment</summary><pre>${escapeHtml(JSON.stringify(document.env, null, 2))}</pre></details>
<script>${script.replace(/<\/script/gi, '<\\/script')}</script>
<script>
const runs = ${embed(series)};
const sampleSeconds = ${SAMPLE_MS / 1000};
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const charts = document.getElementById('charts');
function chart(title, opts, data) {
  const h = document.createElement('h2');
  h.textContent = title;
  charts.appendChild(h);
  const div = document.createElement('div');
  charts.appendChild(div);
  new uPlot(Object.assign({ width: Math.min(1000, window.innerWidth - 60), height: 360 }, opts),
    data, div);
}
const throughputTitles = { send: 'Bulk send, Gbit/s over time', recv: 'Bulk receive, Gbit/s over time',
  crr: 'Connections per second over time' };
for (const workload of ['send', 'recv', 'crr']) {
  const picked = runs.filter((r) => r.workload === workload);
  if (picked.length === 0) continue;
  const length = Math.max(...picked.map((r) => r.series.length));
  const x = Array.from({ length }, (_, i) => (i + 1) * sampleSeconds);
  const data = [x, ...picked.map((r) => x.map((_, i) => r.series[i] ?? null))];
  chart(throughputTitles[workload], {
    scales: { x: { time: false } },
    axes: [{ label: 'seconds' }, { label: workload === 'crr' ? 'per second' : 'Gbit/s' }],
    series: [{ label: 'seconds' }, ...picked.map((r, i) => ({ label: r.name, stroke: colors[i % 6] }))],
  }, data);
}
// Latency: percentile on a log scale of 1/(1 - p), as HdrHistogram plots it.
const latencyTitles = { rr1: 'Ping-pong 1 B, latency by percentile (µs)',
  rr1k: 'Ping-pong 1 KiB, latency by percentile (µs)' };
for (const workload of ['rr1', 'rr1k']) {
  const picked = runs.filter((r) => r.workload === workload && r.curve);
  if (picked.length === 0) continue;
  const points = picked[0].curve.filter(([p]) => p < 100);
  const x = points.map(([p]) => -Math.log10(1 - p / 100));
  const data = [x, ...picked.map((r) => r.curve.filter(([p]) => p < 100).map(([, us]) => us))];
  chart(latencyTitles[workload], {
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [
      { label: 'percentile', splits: () => [0, 1, 2, 3, 4, 5],
        values: (u, splits) => splits.map((v) => ['0%', '90%', '99%', '99.9%', '99.99%', '99.999%'][v] ?? '') },
      { label: 'µs' },
    ],
    series: [{ label: 'percentile', value: (u, v) => v == null ? '' : (100 * (1 - Math.pow(10, -v))).toFixed(3) + '%' },
      ...picked.map((r, i) => ({ label: r.name, stroke: colors[i % 6] }))],
  }, data);
}
</script>
</body>
</html>
`;
}
