// Live page of `anomalib-ae serve`: polls /api/recent and draws by hand (no library, no network
// access beyond this service).
"use strict";
(function () {
  const MAX_POINTS = 2000, POLL_MS = 1000;
  const state = { seq: 0, points: [], model: null, anomalies: [], entities: [], drift: null, total: 0, nAnom: 0 };
  const $ = (id) => document.getElementById(id);

  function fmt(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "\u2013";
    const a = Math.abs(x);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2);
    return x.toFixed(digits === undefined ? (a >= 100 ? 1 : 3) : digits);
  }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function shortTime(ts) {
    if (!ts) return "";
    const m = /T(\d\d:\d\d:\d\d)/.exec(ts);
    return m ? m[1] : ts;
  }

  // ------------------------------------------------------------------ chart
  function drawChart() {
    const cv = $("chart"), dpr = window.devicePixelRatio || 1;
    const w = cv.clientWidth, h = cv.clientHeight || 300;
    cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
    const g = cv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const pad = { l: 64, r: 16, t: 12, b: 34 };
    const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
    const pts = state.points, thr = state.model ? state.model.threshold : null;
    g.font = "12px system-ui, sans-serif";
    if (!pts.length) {
      g.fillStyle = "#6b7785"; g.fillText("waiting for scores \u2026 POST rows to /score", pad.l + 8, pad.t + 24);
      return;
    }
    let lo = Infinity, hi = -Infinity;
    for (const p of pts) { lo = Math.min(lo, p.score); hi = Math.max(hi, p.score); }
    if (thr !== null && isFinite(thr)) { lo = Math.min(lo, thr); hi = Math.max(hi, thr); }
    const useLog = lo > 0 && hi / lo > 50;
    const tf = useLog ? (v) => Math.log10(v) : (v) => v;
    let a = tf(lo), b = tf(hi);
    if (b - a < 1e-12) { a -= 1; b += 1; }
    const m = (b - a) * 0.06; a -= m; b += m;
    $("scale").textContent = useLog ? "log scale" : "";
    const x0 = pts[0].seq, x1 = Math.max(pts[pts.length - 1].seq, x0 + 1);
    const X = (s) => pad.l + ((s - x0) / (x1 - x0)) * pw;
    const Y = (v) => pad.t + (1 - (tf(v) - a) / (b - a)) * ph;
    // grid + y labels
    g.strokeStyle = "#e1e6ec"; g.fillStyle = "#6b7785"; g.lineWidth = 1; g.textAlign = "right";
    for (let i = 0; i <= 4; i++) {
      const tv = a + ((b - a) * i) / 4, y = pad.t + (1 - i / 4) * ph;
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(pad.l + pw, y); g.stroke();
      g.fillText(fmt(useLog ? Math.pow(10, tv) : tv), pad.l - 6, y + 4);
    }
    // x labels: item timestamps
    for (let i = 0; i <= 4; i++) {
      const p = pts[Math.min(pts.length - 1, Math.round(((pts.length - 1) * i) / 4))];
      g.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
      g.fillText(shortTime(p.timestamp), X(p.seq), h - 12);
    }
    g.save(); g.translate(14, pad.t + ph / 2); g.rotate(-Math.PI / 2); g.fillText("score", 0, 0); g.restore();
    // score line
    g.strokeStyle = "#2f6fd1"; g.lineWidth = 1.25; g.beginPath();
    pts.forEach((p, i) => (i ? g.lineTo(X(p.seq), Y(p.score)) : g.moveTo(X(p.seq), Y(p.score))));
    g.stroke();
    // threshold
    if (thr !== null && isFinite(thr)) {
      g.strokeStyle = "#e59b1b"; g.setLineDash([6, 4]); g.lineWidth = 2; g.beginPath();
      g.moveTo(pad.l, Y(thr)); g.lineTo(pad.l + pw, Y(thr)); g.stroke(); g.setLineDash([]);
      g.fillStyle = "#b97500"; g.textAlign = "left"; g.fillText("threshold " + fmt(thr), pad.l + 6, Y(thr) - 5);
    }
    // anomaly markers
    g.fillStyle = "#d64541"; g.strokeStyle = "#fff"; g.lineWidth = 1.5;
    for (const p of pts) if (p.is_anomaly) {
      g.beginPath(); g.arc(X(p.seq), Y(p.score), 4.5, 0, 2 * Math.PI); g.fill(); g.stroke();
    }
  }

  // ------------------------------------------------------------------ panels
  function renderModel() {
    const m = state.model;
    if (!m) return;
    $("model").innerHTML = "model <b>" + esc(m.name) + "</b> \u00b7 " + esc(m.detector) + " \u00b7 " + esc(m.kind) +
      " \u00b7 format v" + esc(m.format_version) + " \u00b7 sha256 " + esc(String(m.digest).slice(0, 12));
    $("k-thr").textContent = fmt(m.threshold);
  }
  function renderKpis() {
    $("k-items").textContent = state.total.toLocaleString();
    $("k-anoms").textContent = state.nAnom.toLocaleString();
    const n = state.points.length, k = state.points.filter((p) => p.is_anomaly).length;
    $("k-rate").textContent = n ? ((100 * k) / n).toFixed(1) + " %" : "\u2013";
    const d = state.drift, box = $("drift");
    box.classList.remove("ok", "bad");
    if (!d || d.p_value === null || d.p_value === undefined) {
      $("k-drift").textContent = "n/a";
      $("k-drift-detail").textContent = d ? "waiting: " + d.n + " items in window" : "no drift test";
    } else {
      box.classList.add(d.drifted ? "bad" : "ok");
      $("k-drift").textContent = d.drifted ? "DRIFT" : "stable";
      $("k-drift-detail").textContent = "p = " + fmt(d.p_value) + " \u00b7 KS D = " + fmt(d.statistic, 3) + " \u00b7 n = " + d.n;
    }
  }
  function renderEntities() {
    const ents = state.entities;
    $("n-ent").textContent = ents.length ? ents.length + " seen" : "";
    if (!ents.length) return;
    $("entities").innerHTML = ents.map((e) =>
      '<div class="entity' + (e.is_anomaly ? " anomaly" : "") + '" data-entity="' + esc(e.entity) + '">' +
      '<div class="name" title="' + esc(e.entity) + '">' + esc(e.entity) + "</div>" +
      '<div class="meta">' + (e.is_anomaly ? "ANOMALY" : "normal") + " \u00b7 p(anom) " + fmt(e.probability, 3) + "</div>" +
      '<div class="meta">' + e.items + " items \u00b7 " + e.anomalies + " anomalies" +
      (e.errors ? " \u00b7 " + e.errors + " errors" : "") + "</div></div>").join("");
  }
  function renderAnomalies() {
    const rows = state.anomalies;
    if (!rows.length) return;
    $("anomalies").querySelector("tbody").innerHTML = rows.map((r) =>
      '<tr class="anomaly-row"><td>' + esc(shortTime(r.timestamp)) + "</td><td>" + esc(r.entity) + "</td><td>" + esc(r.item) +
      "</td><td>" + fmt(r.score) + "</td><td>" + fmt(r.probability, 3) + '</td><td class="features">' +
      (r.top_features && r.top_features.length
        ? r.top_features.map((f) => '<span class="feat">' + esc(f.name) + " <small>" + Math.round(100 * f.value) + "%</small></span>").join("")
        : '<span class="empty">\u2013</span>') + "</td></tr>").join("");
  }

  // ------------------------------------------------------------------ polling
  async function poll() {
    try {
      const r = await fetch("api/recent?since=" + state.seq, { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const d = await r.json();
      if (d.seq < state.seq) state.points = []; // the service restarted
      state.model = d.model;
      for (const p of d.points) {
        state.points.push(p);
      }
      if (state.points.length > MAX_POINTS) state.points.splice(0, state.points.length - MAX_POINTS);
      state.total = d.counts.items; state.nAnom = d.counts.anomalies;
      state.seq = d.seq; state.anomalies = d.anomalies; state.entities = d.entities; state.drift = d.drift;
      $("conn").textContent = "\u25cf live"; $("conn").className = "conn ok";
      renderModel(); renderKpis(); renderEntities(); renderAnomalies(); drawChart();
    } catch (e) {
      $("conn").textContent = "\u25cf disconnected (" + e.message + ")"; $("conn").className = "conn err";
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }
  window.addEventListener("resize", drawChart);
  poll();
})();
