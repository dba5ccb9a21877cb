/**
 * The dashboard page's HTML and CSS. Everything that moves is drawn by the page's modules
 * (ts/dashboard/page) from one server-sent-event stream; the markup only names the places.
 */
const CLASS_HEAD = '<thead><tr><th>class</th><th>ops/s</th><th>p50 ms</th><th>p99 ms</th><th>shed/s</th><th>limit</th><th>in flight</th></tr></thead>';

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>quorumkv dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/dashboard.css">
<script src="/dashboard/uPlot.iife.min.js"></script>
<script type="module" src="/dashboard/main.js"></script>
</head>
<body data-samples="0">
<header>
  <h1>quorumkv</h1>
  <span id="conn" class="badge">connecting</span>
  <dl class="facts">
    <div><dt>node</dt><dd id="node">–</dd></div>
    <div><dt>role</dt><dd id="role">–</dd></div>
    <div><dt>leader</dt><dd id="leader">–</dd></div>
    <div><dt>term</dt><dd id="term">–</dd></div>
    <div><dt>commit</dt><dd id="commit">–</dd></div>
    <div><dt>applied</dt><dd id="applied">–</dd></div>
    <div><dt>leader changes</dt><dd id="leader-changes">–</dd></div>
  </dl>
</header>
<main>
  <section>
    <h2>Cluster</h2>
    <table id="members"><thead><tr><th>member</th><th>role</th><th>client address</th><th>match index</th><th>lag (entries)</th><th>active</th><th>disk</th></tr></thead><tbody></tbody></table>
    <p class="hint" id="members-hint"></p>
    <form id="transfer-form" hidden><label>hand leadership to <select id="transfer-to"></select></label> <button type="submit">transfer</button> <span id="transfer-result"></span></form>
  </section>
  <section>
    <h2>Traffic</h2>
    <table id="traffic-now">${CLASS_HEAD}<tbody></tbody></table>
    <div class="grid">
      <div class="chart" id="chart-ops"></div>
      <div class="chart" id="chart-p50"></div>
      <div class="chart" id="chart-p99"></div>
      <div class="chart" id="chart-fsync"></div>
      <div class="chart" id="chart-entries"></div>
      <div class="chart" id="chart-apply"></div>
    </div>
  </section>
  <section>
    <h2>Health <small>throttling <span id="throttle">–</span>; band: EWMA baseline ± <span id="k">k</span>σ, shaded: anomaly</small></h2>
    <div class="grid" id="signals"></div>
    <div class="grid">
      <div class="chart" id="chart-limits"></div>
      <div class="chart" id="chart-shed"></div>
    </div>
  </section>
  <section>
    <h2>Market data</h2>
    <form id="book-form">
      <label>instrument <input id="symbol" list="instruments" autocomplete="off" size="12"></label>
      <datalist id="instruments"></datalist>
      <button type="submit">show book</button>
      <span id="instrument-count"></span>
    </form>
    <div class="grid">
      <div id="ladder"><p class="hint">choose an instrument</p></div>
      <div class="chart" id="chart-ticks"></div>
    </div>
    <h3>Replay sessions</h3>
    <table id="replays"><thead><tr><th>id</th><th>state</th><th>instruments</th><th>speed</th><th>events</th><th>market time</th><th>lag ms</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `
:root { --fg: #1d232a; --muted: #66717d; --line: #d9dee3; --bg: #f7f8fa; --bid: #1b7f3b; --ask: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 16px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 16px; margin: 0 0 8px; }
h2 small { font-weight: normal; color: var(--muted); margin-left: 8px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
main { padding: 12px 20px; display: grid; gap: 14px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
.facts { display: flex; flex-wrap: wrap; gap: 18px; margin: 0; }
.facts div { display: flex; gap: 6px; }
dt { color: var(--muted); }
dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
.badge { padding: 2px 8px; border-radius: 10px; background: #e7eaee; font-size: 12px; }
.badge.live { background: #d7f0dd; color: var(--bid); }
.badge.down { background: #f8dcd9; color: var(--ask); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { color: var(--muted); font-weight: 500; }
tr.leader td:first-child { font-weight: 700; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 10px; margin-top: 10px; }
.chart { min-height: 190px; }
.hint { color: var(--muted); margin: 6px 0 0; }
#ladder table { width: 100%; }
#ladder td.bid { color: var(--bid); }
#ladder td.ask { color: var(--ask); }
#ladder .bar { display: inline-block; height: 8px; opacity: .35; }
#ladder td.bid .bar { background: var(--bid); }
#ladder td.ask .bar { background: var(--ask); }
form { display: flex; gap: 10px; align-items: center; }
`;
