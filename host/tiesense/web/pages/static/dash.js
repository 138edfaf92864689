// tiesense dashboards: draws the page's charts from the JSON the server embedded (#page-data) with the
// plotly.js of the installed plotly package, and listens to /events for new records.
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("i18n").textContent);
  var page = document.body.dataset.page;
  var role = document.body.dataset.role;
  var dataEl = document.getElementById("page-data");
  var DATA = dataEl ? JSON.parse(dataEl.textContent) : null;
  var COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
                 "#ea580c", "#4f46e5", "#0d9488", "#9333ea", "#ca8a04", "#475569", "#be123c"];
  var CONFIG = {responsive: true, displaylogo: false};
  window.tiesense = {rendered: {}, scriptMs: performance.now()};  // scriptMs: plotly.js and the page parsed

  function done(name) {
    window.tiesense.rendered[name] = performance.now();
    document.body.dataset.rendered = Object.keys(window.tiesense.rendered).sort().join(" ");
  }

  function plot(id, traces, layout) {
    var el = document.getElementById(id);
    if (!el) return Promise.resolve();
    layout = Object.assign({margin: {l: 50, r: 20, t: 10, b: 40}, font: {family: "system-ui, sans-serif"},
                            paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"}, layout || {});
    return Plotly.react(el, traces, layout, CONFIG).then(function () { done(id); });
  }

  // ------------------------------------------------------------------ overview
  function label(d, key) { return (d.labels && d.labels[key]) || key; }

  // The footfall series has a point per hour with presence records: an hour missing between two points breaks
  // the lines (null), and the hours of day no kiosk ever reported (nights) are folded out of the time axis.
  function footfallTraces(f) {
    var hour = [], approaches = [], completed = [], rate = [];
    for (var i = 0; i < f.hour.length; i++) {
      if (i && Date.parse(f.hour[i]) - Date.parse(f.hour[i - 1]) > 3600e3) {
        hour.push(new Date(Date.parse(f.hour[i - 1]) + 3600e3).toISOString());
        approaches.push(null); completed.push(null); rate.push(null);
      }
      hour.push(f.hour[i]); approaches.push(f.approaches[i]);
      if (f.completed) { completed.push(f.completed[i]); rate.push(f.response_rate[i]); }
    }
    var tip = "%{x|%Y-%m-%d %H:00} · %{y}<extra></extra>";
    var out = [{type: "bar", name: T["ov.approaches"], x: hour, y: approaches, marker: {color: "#cbd5e1"},
                hovertemplate: tip}];
    if (f.completed) {
      out.push({type: "bar", name: T["ov.completed"], x: hour, y: completed, marker: {color: "#2563eb"},
                hovertemplate: tip});
      out.push({type: "scatter", mode: "lines", name: T["ov.rate"], yaxis: "y2", x: hour, y: rate,
                line: {color: "#dc2626", width: 1.5}, hovertemplate: "%{x|%Y-%m-%d %H:00} · %{y:.0%}<extra></extra>"});
    }
    return out;
  }

  function footfallLayout(f) {
    var seen = {};
    f.hour.forEach(function (h) { seen[+h.slice(11, 13)] = true; });
    var hours = Object.keys(seen).map(Number).sort(function (a, b) { return a - b; });
    var breaks = [];
    if (hours.length && hours[hours.length - 1] - hours[0] < 20) {
      breaks.push({pattern: "hour", bounds: [hours[hours.length - 1] + 1, hours[0]]});
    }
    return {barmode: "overlay", bargap: 0.15,
      xaxis: {type: "date", title: {text: T["ov.time"]}, rangebreaks: breaks, tickformat: "%m-%d %H:00"},
      yaxis: {title: {text: T["ov.approaches"]}},
      yaxis2: {overlaying: "y", side: "right", range: [0, 1], tickformat: ".0%", showgrid: false},
      legend: {orientation: "h", y: 1.12}, margin: {l: 50, r: 50, t: 10, b: 45}};
  }

  function drawOverview(d) {
    var facilities = [], hours = [];
    for (var h = 0; h < 24; h++) hours.push((h < 10 ? "0" : "") + h);
    d.heatmap.forEach(function (c) { if (facilities.indexOf(c.key[0]) < 0) facilities.push(c.key[0]); });
    facilities.sort();
    var z = facilities.map(function () { return hours.map(function () { return null; }); });
    var text = facilities.map(function () { return hours.map(function () { return ""; }); });
    d.heatmap.forEach(function (c) {
      var i = facilities.indexOf(c.key[0]), j = hours.indexOf(c.key[1]);
      if (j < 0) return;
      z[i][j] = c.suppressed ? null : c.visits;
      text[i][j] = c.suppressed ? "< k" : String(c.visits);
    });
    var charts = [
      plot("chart-heatmap", [{type: "heatmap", x: hours, y: facilities.map(function (f) { return label(d, f); }),
        z: z, text: text, colorscale: [[0, "#eff6ff"], [0.5, "#60a5fa"], [1, "#1e3a8a"]], hoverongaps: false,
        zmin: 0, hovertemplate: "%{y} %{x}:00 · %{text}<extra></extra>", colorbar: {title: {text: T["ov.visits"]}}}],
        {xaxis: {title: {text: T["ov.hour"]}, dtick: 2}, yaxis: {automargin: true},
         margin: {l: 20, r: 20, t: 10, b: 45}}),
      plot("chart-satisfaction", [{type: "bar", orientation: "h",
        y: d.satisfaction.map(function (c) { return label(d, c.key); }),
        x: d.satisfaction.map(function (c) { return c.mean; }), marker: {color: "#2563eb"},
        customdata: d.satisfaction.map(function (c) { return c.suppressed ? "< k" : c.visits; }),
        hovertemplate: "%{y}: %{x:.2f} (%{customdata})<extra></extra>"}],
        {xaxis: {range: [0, 5], title: {text: T["ov.mean"]}}, yaxis: {automargin: true},
         margin: {l: 20, r: 20, t: 10, b: 45}}),
      plot("chart-contacts", [{type: "bar", orientation: "h", name: T["ov.contacts.made"],
        y: d.satisfaction.map(function (c) { return label(d, c.key); }),
        x: d.satisfaction.map(function (c) { return c.new_contacts; }), marker: {color: "#16a34a"},
        customdata: d.satisfaction.map(function (c) { return c.suppressed ? "< k" : c.contact_asked; }),
        hovertemplate: "%{y}: %{x} / %{customdata}<extra></extra>"}],
        {xaxis: {rangemode: "tozero", title: {text: T["ov.contacts.made"]}}, yaxis: {automargin: true},
         margin: {l: 20, r: 20, t: 10, b: 45}}),
      plot("chart-weekly", [
        {type: "bar", name: T["ov.visits"], x: d.weekly.map(function (c) { return c.key; }),
         y: d.weekly.map(function (c) { return c.visits; }), marker: {color: "#93c5fd"}},
        {type: "scatter", mode: "lines+markers", name: T["ov.mean"], yaxis: "y2",
         x: d.weekly.map(function (c) { return c.key; }), y: d.weekly.map(function (c) { return c.mean; }),
         line: {color: "#dc2626"}}],
        {xaxis: {title: {text: T["ov.week"]}, type: "category"}, yaxis: {title: {text: T["ov.visits"]}},
         yaxis2: {overlaying: "y", side: "right", range: [0, 5], dtick: 1, showgrid: false, title: {text: T["ov.mean"]}},
         legend: {orientation: "h", y: 1.12}, margin: {l: 50, r: 50, t: 10, b: 45}})
    ];
    var total = document.getElementById("contacts-total"), nc = d.new_contacts;
    if (total && nc) {  // the server's text at first; redrawn here when live data arrives
      total.textContent = nc.asked ? T["ov.contacts.total"].replace("{made}", nc.made).replace("{asked}", nc.asked)
        .replace("{share}", Math.round(100 * nc.share) + " %") : T["ov.contacts.none"];
    }
    charts.push(plot("chart-footfall", footfallTraces(d.footfall), footfallLayout(d.footfall)));
    charts.push(drawWaves(d));
    if (d.kiosks) {
      var k = d.kiosks;
      charts.push(plot("chart-kiosks", [
        {type: "bar", name: T["ov.approaches"], x: k.map(function (r) { return r.device; }),
         y: k.map(function (r) { return r.approaches; }), marker: {color: "#cbd5e1"}},
        {type: "bar", name: T["ov.completed"], x: k.map(function (r) { return r.device; }),
         y: k.map(function (r) { return r.completed; }), marker: {color: "#2563eb"}},
        {type: "scatter", mode: "markers", name: T["ov.rate"], yaxis: "y2", x: k.map(function (r) { return r.device; }),
         y: k.map(function (r) { return r.response_rate; }), marker: {size: 12, color: "#dc2626"}}],
        {barmode: "group", yaxis2: {overlaying: "y", side: "right", range: [0, 1], tickformat: ".0%"},
         legend: {orientation: "h", y: 1.12}, margin: {l: 50, r: 50, t: 10, b: 45}}));
    } else {
      charts.push(plot("chart-kiosks", [{type: "bar", name: T["ov.visits"],
        x: d.per_kiosk.map(function (c) { return c.key; }), y: d.per_kiosk.map(function (c) { return c.visits; }),
        marker: {color: "#2563eb"}}], {margin: {l: 50, r: 20, t: 10, b: 45}}));
    }
    return Promise.all(charts).then(function () { done("overview"); });
  }

  // Visits, satisfaction and new contacts per survey wave (the card shows when the visits hold two or more
  // waves); the wave chosen in the filter is drawn darker, the others stay for comparison. The card carries
  // its own words (data-none: visits without a wave, data-axis).
  function drawWaves(d) {
    var card = document.getElementById("card-waves");
    if (!card || !d.by_wave) return Promise.resolve();
    card.hidden = !d.compare_waves;
    var waveName = function (c) { return c.key === null ? card.dataset.none : String(c.key); };
    var cells = d.by_wave, names = cells.map(waveName);
    var body = card.querySelector("tbody");
    body.textContent = "";
    cells.forEach(function (c) {
      var row = [waveName(c), c.suppressed ? "< k" : c.visits, c.mean == null ? "–" : c.mean.toFixed(2),
                 c.suppressed ? "–" : c.new_contacts + " / " + c.contact_asked,
                 c.period ? c.period[0].slice(0, 13).replace("T", " ") + " – " + c.period[1].slice(0, 13).replace("T", " ") : "–"];
      if (d.kiosks) row.push(c.approaches == null ? "–" : c.approaches,
                             c.response_rate == null ? "–" : Math.round(100 * c.response_rate) + " %");
      var tr = document.createElement("tr");
      if (d.wave !== null && c.key === d.wave) tr.className = "chosen";
      row.forEach(function (v) { var td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
      body.appendChild(tr);
    });
    if (!d.compare_waves) return Promise.resolve();
    var shade = function (dark, light) {
      return cells.map(function (c) { return d.wave === null || c.key === d.wave ? dark : light; });
    };
    return plot("chart-waves", [
      {type: "bar", name: T["ov.visits"], x: names, y: cells.map(function (c) { return c.visits; }),
       marker: {color: shade("#2563eb", "#bfdbfe")}},
      {type: "bar", name: T["ov.contacts.made"], x: names, y: cells.map(function (c) { return c.new_contacts; }),
       marker: {color: shade("#16a34a", "#bbf7d0")}},
      {type: "scatter", mode: "lines+markers", name: T["ov.mean"], yaxis: "y2", x: names,
       y: cells.map(function (c) { return c.mean; }), line: {color: "#dc2626"}}],
      {barmode: "group", xaxis: {title: {text: card.dataset.axis}, type: "category"}, yaxis: {title: {text: T["ov.visits"]}},
       yaxis2: {overlaying: "y", side: "right", range: [0, 5], dtick: 1, showgrid: false, title: {text: T["ov.mean"]}},
       legend: {orientation: "h", y: 1.12}, margin: {l: 50, r: 50, t: 10, b: 45}});
  }

  // at most one refetch at a time: records arriving meanwhile are drawn by the next one
  var fetching = false, again = false;
  function refreshOverview() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch("/overview/data.json" + location.search, {credentials: "same-origin"})
      .then(function (r) { return r.json(); }).then(drawOverview)
      .finally(function () { fetching = false; if (again) { again = false; refreshOverview(); } });
  }

  // ------------------------------------------------------------------ network
  // Nodes and the edges' hover points are WebGL (scattergl). The edges themselves are one 2D canvas path,
  // drawn for the current view in a layer between plotly's background and its WebGL canvas, moved with the
  // view while it is dragged and drawn again when the drag or zoom ends: 20,000 segments take tens of
  // milliseconds there, where WebGL lines with gaps took seconds per frame without a GPU.
  function edgeLayer(el) {
    var box = el.querySelector(".tiesense-edges");
    var gl = el.querySelector(".gl-container");
    if (!box && gl) {
      box = document.createElement("div");
      box.className = "tiesense-edges";
      box.style.cssText = "position:absolute;overflow:hidden;pointer-events:none";
      box.appendChild(document.createElement("canvas"));
      gl.parentNode.insertBefore(box, gl);
    }
    return box;
  }

  function drawEdges(el, n, e) {
    var box = edgeLayer(el);
    if (!box) return;
    var fl = el._fullLayout, xr = fl.xaxis.range.slice(), yr = fl.yaxis.range.slice(), size = fl._size;
    var ratio = window.devicePixelRatio || 1;
    box.style.left = size.l + "px"; box.style.top = size.t + "px";
    box.style.width = size.w + "px"; box.style.height = size.h + "px";
    var c = box.firstChild;
    c.width = Math.max(1, Math.round(size.w * ratio)); c.height = Math.max(1, Math.round(size.h * ratio));
    c.style.cssText = "width:" + size.w + "px;height:" + size.h + "px;transform-origin:0 0";
    var g = c.getContext("2d");
    var sx = c.width / (xr[1] - xr[0]), sy = c.height / (yr[1] - yr[0]);
    g.clearRect(0, 0, c.width, c.height);
    // many ties: each faint, so that where they bunch shows (a hairball of 50,000 opaque lines shows nothing)
    g.strokeStyle = "rgba(51,65,85," + Math.min(0.35, Math.max(0.03, 1000 / Math.max(1, e.u.length))) + ")";
    g.lineWidth = (e.u.length > 5000 ? 0.5 : 0.8) * ratio;
    g.beginPath();
    for (var i = 0; i < e.u.length; i++) {
      var a = e.u[i], b = e.v[i];
      g.moveTo((n.x[a] - xr[0]) * sx, (yr[1] - n.y[a]) * sy);
      g.lineTo((n.x[b] - xr[0]) * sx, (yr[1] - n.y[b]) * sy);
    }
    g.stroke();
    box.drawn = {x: xr, y: yr, w: size.w, h: size.h};
  }

  function followDrag(el, ev) {
    // while a pan or zoom is under way: move the drawn edges as the view moves (CSS only)
    var box = el.querySelector(".tiesense-edges");
    if (!box || !box.drawn) return;
    var d = box.drawn, fl = el._fullLayout;
    var xr = [ev["xaxis.range[0]"], ev["xaxis.range[1]"]], yr = [ev["yaxis.range[0]"], ev["yaxis.range[1]"]];
    if (xr[0] === undefined) xr = fl.xaxis.range;
    if (yr[0] === undefined) yr = fl.yaxis.range;
    var kx = (d.x[1] - d.x[0]) / (xr[1] - xr[0]), ky = (d.y[1] - d.y[0]) / (yr[1] - yr[0]);
    var dx = (d.x[0] - xr[0]) / (xr[1] - xr[0]) * d.w, dy = (yr[1] - d.y[1]) / (yr[1] - yr[0]) * d.h;
    box.firstChild.style.transform = "translate(" + dx + "px," + dy + "px) scale(" + kx + "," + ky + ")";
  }

  // a column the server packed (little-endian, base64) as a typed array: NaN / -1 where there is no number
  function unpack(text, Type) {
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  function num(x) { return x !== x ? "–" : String(Math.round(x * 1e4) / 1e4); }

  function drawNetwork(d) {
    var n = d.nodes, t0 = performance.now();
    var e = {u: unpack(d.edges.u, Int32Array), v: unpack(d.edges.v, Int32Array),
             value: unpack(d.edges.value, Float32Array), low: unpack(d.edges.low, Float32Array),
             high: unpack(d.edges.high, Float32Array), observations: unpack(d.edges.observations, Int32Array)};
    window.tiesense.dataMs = t0;  // the page's data parsed
    var mx = new Array(e.u.length), my = new Array(e.u.length), mt = new Array(e.u.length);
    for (var i = 0; i < e.u.length; i++) {
      var a = e.u[i], b = e.v[i];
      mx[i] = (n.x[a] + n.x[b]) / 2; my[i] = (n.y[a] + n.y[b]) / 2;
      mt[i] = n.name[a] + " – " + n.name[b] + "<br>" + num(e.value[i]) + " [" + num(e.low[i]) + ", "
        + num(e.high[i]) + "]" + (e.observations[i] >= 0 ? " · n=" + e.observations[i] : "");
    }
    var traces = [
      {type: "scattergl", mode: "markers", x: mx, y: my, text: mt, hovertemplate: "%{text}<extra></extra>",
       showlegend: false, marker: {size: 4, color: "rgba(0,0,0,0)", opacity: 0}}  // hover targets only
    ];
    var maxS = Math.max.apply(null, n.strength.concat([1e-9]));
    var types = [];
    n.type.forEach(function (t) { if (types.indexOf(t) < 0) types.push(t); });
    types.sort();
    // every organisation in ONE WebGL trace (colour, symbol and size per point: each extra WebGL trace costs
    // its own buffers and draw calls, which without a GPU is most of the drawing time); the legend is one
    // empty SVG trace per actor type, which costs nothing to draw
    var few = n.type.length <= 60;  // few enough to name on the chart
    var labels = d.actor_labels || {};
    var maxSize = n.type.length > 1000 ? 14 : n.type.length > 200 ? 20 : 28, minSize = n.type.length > 1000 ? 3 : 6;
    var colour = {}, colours = new Array(n.type.length), symbols = new Array(n.type.length);
    var sizes = new Array(n.type.length), texts = new Array(n.type.length);
    types.forEach(function (type, k) { colour[type] = COLOURS[k % COLOURS.length]; });
    for (var j = 0; j < n.type.length; j++) {
      var m = n.measured[j], responded = n.respondent[j];
      colours[j] = colour[n.type[j]];
      symbols[j] = responded ? "circle" : "circle-open";
      sizes[j] = minSize + (maxSize - minSize) * Math.sqrt(n.strength[j] / maxS);
      texts[j] = n.name[j] + " (" + (labels[n.type[j]] || n.type[j]) + (n.region[j] ? ", " + n.region[j] : "") + ")<br>"
        + T["net.hover.shown"] + " " + n.strength[j] + (m[0] != null ? "<br>" + T["net.hover.composite"] + " " + m[0]
        + " [" + m[1] + ", " + m[2] + "]" : "") + (responded ? "" : "<br>" + T["net.hover.silent"]);
    }
    traces.push({type: "scattergl", mode: few ? "markers+text" : "markers", name: "", showlegend: false,
                 x: n.x, y: n.y, hovertext: texts, text: few ? n.name : undefined, textposition: "top center",
                 textfont: {size: 11, color: "#334155"}, hovertemplate: "%{hovertext}<extra></extra>",
                 marker: {color: colours, symbol: symbols, size: sizes, line: {width: 1, color: colours}}});
    types.forEach(function (type) {
      traces.push({type: "scatter", mode: "markers", name: labels[type] || type, x: [null], y: [null], hoverinfo: "skip",
                   marker: {color: colour[type], size: 10}});
    });
    if (n.respondent.some(function (r) { return !r; })) {
      traces.push({type: "scatter", mode: "markers", name: T["net.hover.silent"], x: [null], y: [null],
                   hoverinfo: "skip", marker: {color: "#64748b", size: 10, symbol: "circle-open"}});
    }
    var el = document.getElementById("chart-network");
    return plot("chart-network", traces, {
      hovermode: "closest", dragmode: "pan", legend: {orientation: "h"}, margin: {l: 10, r: 10, t: 10, b: 10},
      xaxis: {visible: false}, yaxis: {visible: false, scaleanchor: "x"}}).then(function () {
        window.tiesense.plottedMs = performance.now();
        drawEdges(el, n, e);
        window.tiesense.networkMs = performance.now();
        window.tiesense.networkDrawMs = performance.now() - t0;
        requestAnimationFrame(function () { requestAnimationFrame(function () {
          window.tiesense.networkFrameMs = performance.now();  // the next frame after the drawing
        }); });
        done("network");
        el.on("plotly_relayouting", function (ev) { followDrag(el, ev || {}); });
        el.on("plotly_relayout", function () { drawEdges(el, n, e); });
        el.on("plotly_afterplot", function () { if (!el.querySelector(".tiesense-edges")) drawEdges(el, n, e); });
      });
  }

  function backboneToggle() {
    var box = document.getElementById("use-backbone");
    if (!box) return;
    var input = document.querySelector("input[name=backbone]");
    box.addEventListener("change", function () { input.disabled = !box.checked; });
  }

  // ------------------------------------------------------------------ live
  function live() {
    if (!window.EventSource) return;
    var badge = document.getElementById("live");
    var source = new EventSource("/events");
    source.addEventListener("records", function (ev) {
      var d = JSON.parse(ev.data);
      window.tiesense.lastEvent = d;
      if (d.records != null) badge.textContent = T["live.records"].replace("{n}", d.records);
      var list = document.getElementById("latest");
      if (list && d.latest) {
        d.latest.slice().reverse().forEach(function (r) {
          var li = document.createElement("li");
          if (!d.first) li.className = "new";
          li.textContent = (d.first ? "" : T["live.new"] + ": ") + r.form + " · " + r.device + " · " + r.end + " · "
            + r.id;
          list.insertBefore(li, list.firstChild);
        });
        while (list.children.length > 8) list.removeChild(list.lastChild);
      }
      if (d.first) return;
      badge.classList.add("flash");
      setTimeout(function () { badge.classList.remove("flash"); }, 1500);
      if (page === "overview") refreshOverview();
    });
  }

  var logout = document.getElementById("logout");
  if (logout) logout.addEventListener("click", function () {
    fetch("/api/logout", {method: "POST", credentials: "same-origin"}).then(function () { location.href = "/login?next=%2Foverview"; });
  });
  if (page === "overview" && DATA) drawOverview(DATA);
  if (page === "network" && DATA) { backboneToggle(); drawNetwork(DATA); }
  live();
})();
