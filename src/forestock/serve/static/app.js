// forestock control room: one EventSource, one frame a tick, charts by ECharts (vendored).
"use strict";
(function () {
  var token = new URLSearchParams(location.search).get("token");
  function url(path) { return token ? path + "?token=" + encodeURIComponent(token) : path; }
  var $ = function (id) { return document.getElementById(id); };
  var yuan = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var dec1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  var gmvPs = [], ordersPs = [], expectedPs = [];
  var lastMarks = {};
  var theme = { textStyle: { color: "#d7e6ff" } };
  var axis = { axisLine: { lineStyle: { color: "#2c4d7a" } }, splitLine: { lineStyle: { color: "#132844" } },
               axisLabel: { color: "#7d93b5" } };
  function clock(s) {
    s = Math.floor(s); var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
    return [h, m, x].map(function (v) { return String(v).padStart(2, "0"); }).join(":");
  }
  function minutes(n) { var a = []; for (var i = 0; i < n; i++) a.push(clock(i * 60).slice(0, 5)); return a; }
  var LABELS = minutes(1440);

  var spark = echarts.init($("spark"));
  spark.setOption(Object.assign({}, theme, {
    animation: false, grid: { left: 60, right: 8, top: 8, bottom: 20 },
    xAxis: Object.assign({ type: "category", data: LABELS, boundaryGap: false }, axis),
    yAxis: Object.assign({ type: "value", name: "", splitNumber: 2 }, axis),
    tooltip: { trigger: "axis" },
    series: [{ name: "GMV per second", type: "line", showSymbol: false, data: [],
               lineStyle: { color: "#ffb640", width: 1.2 }, areaStyle: { color: "rgba(255,182,64,0.18)" } }]
  }));
  var ordersChart = echarts.init($("orders-chart"));
  ordersChart.setOption(Object.assign({}, theme, {
    animation: false, grid: { left: 52, right: 8, top: 24, bottom: 20 },
    legend: { data: ["rehearsal", "plan"], textStyle: { color: "#7d93b5" }, right: 0, top: 0 },
    tooltip: { trigger: "axis" },
    xAxis: Object.assign({ type: "category", data: LABELS, boundaryGap: false }, axis),
    yAxis: Object.assign({ type: "value", splitNumber: 3 }, axis),
    series: [
      { name: "rehearsal", type: "line", showSymbol: false, data: [], lineStyle: { color: "#31d0a0", width: 1.2 } },
      { name: "plan", type: "line", showSymbol: false, data: [], lineStyle: { color: "#7d93b5", type: "dashed", width: 1 } }
    ]
  }));
  var water = echarts.init($("water"));
  water.setOption(Object.assign({}, theme, {
    animation: true, grid: { left: 40, right: 8, top: 14, bottom: 56 },
    tooltip: { trigger: "axis", formatter: function (p) {
      var d = p[0].data; return d.name + "<br>" + yuan.format(d.backlog) + " parcels waiting<br>" +
        dec1.format(d.value) + " h of " + yuan.format(d.capacity) + "/h"; } },
    xAxis: Object.assign({ type: "category", data: [], axisLabel: { color: "#7d93b5", rotate: 40, fontSize: 10 } },
                         { axisLine: axis.axisLine }),
    yAxis: Object.assign({ type: "value", name: "hours", min: 0, nameTextStyle: { color: "#7d93b5" } }, axis),
    series: [{ type: "bar", data: [], barWidth: "62%", showBackground: true,
               backgroundStyle: { color: "rgba(47,140,255,0.10)" },
               markLine: { silent: true, symbol: "none", lineStyle: { color: "#ff5a6a" }, data: [] } }]
  }));
  var map = echarts.init($("map"));
  var mapReady = false;
  fetch(url("static/vendor/china.json")).then(function (r) { return r.json(); }).then(function (geo) {
    echarts.registerMap("china", geo);
    map.setOption(Object.assign({}, theme, {
      tooltip: { trigger: "item", formatter: function (p) {
        return p.name + ": " + (p.data ? (p.data.value * 100).toFixed(1) + "% of " + yuan.format(p.data.units) + " units" : "no orders yet"); } },
      visualMap: { min: 0.5, max: 1, calculable: false, left: 8, bottom: 8, text: ["100%", "50%"],
                   inRange: { color: ["#ff5a6a", "#ffb640", "#31d0a0"] }, textStyle: { color: "#7d93b5" } },
      series: [{ name: "within 24 h", type: "map", map: "china", roam: false, data: [],
                 label: { show: false }, itemStyle: { borderColor: "#0b1a2e", areaColor: "#1a2d48" },
                 emphasis: { label: { show: true, color: "#fff" } } }]
    }));
    mapReady = true;
    $("map").setAttribute("data-ready", "1");
  });

  function setState(f) {
    var st = $("state"); st.textContent = f.state; st.className = "badge " + f.state;
    $("controls").hidden = f.mode !== "replay";
    var sp = $("speed"), v = String(f.speed);
    if (document.activeElement !== sp && sp.value !== v) {
      if (![].some.call(sp.options, function (o) { return o.value === v; })) {
        var o = document.createElement("option"); o.value = v; o.textContent = v + " s a second"; sp.appendChild(o);
      }
      sp.value = v;
    }
    if (document.activeElement !== $("seek")) $("seek").value = Math.floor(f.second || 0);
  }
  function render(f) {
    setState(f);
    if (f.waiting) { $("day").textContent = "waiting for a rehearsal (forestock simulate --live)"; return; }
    $("day").textContent = f.day;
    $("clock").textContent = clock(f.second);
    $("ticker").textContent = "CNY " + yuan.format(f.gmv);
    $("ticker").setAttribute("data-gmv", f.gmv);
    $("gmv-ps").textContent = "CNY " + yuan.format(f.gmv_per_second);
    $("orders").textContent = yuan.format(f.orders);
    $("ops").textContent = dec1.format(f.orders_per_second);
    $("ops-plan").textContent = dec1.format(f.expected_orders_per_second);
    $("ops-source").textContent = f.expected_source ? "(" + f.expected_source + ")" : "";
    gmvPs.length = f.series_from; Array.prototype.push.apply(gmvPs, f.gmv_ps);
    ordersPs.length = f.series_from; Array.prototype.push.apply(ordersPs, f.orders_ps);
    if (f.expected_ps) expectedPs = f.expected_ps;
    spark.setOption({ series: [{ data: gmvPs }] });
    ordersChart.setOption({ series: [{ data: ordersPs }, { data: expectedPs }] });
    water.setOption({
      xAxis: { data: f.warehouses.map(function (w) { return w[0]; }) },
      series: [{ data: f.warehouses.map(function (w) {
        return { name: w[0], value: w[3], backlog: w[1], capacity: w[2],
                 itemStyle: { color: w[3] > f.backlog_hours ? "#ff5a6a" : "#2f8cff" } }; }),
        markLine: { data: [{ yAxis: f.backlog_hours, label: { formatter: f.backlog_hours + " h", color: "#ff5a6a" } }] } }]
    });
    if (mapReady) map.setOption({ series: [{ data: f.provinces.map(function (p) {
      return { name: p[0], value: p[1], units: p[2] }; }) }] });
    $("off-map").textContent = f.off_map ? f.off_map + " regions not on the map of China" : "";
    var rows = f.brands.map(function (b) {
      var mark = b[4] === 2 ? "★★ 1 bn" : b[4] === 1 ? "★ 100 m" : "";
      var fresh = b[4] > (lastMarks[b[1]] || 0); lastMarks[b[1]] = b[4];
      return "<tr" + (fresh ? ' class="flash"' : "") + "><td>" + b[0] + "</td><td>" + esc(b[1]) + "</td><td>" +
        esc(b[2]) + '</td><td class="num">' + yuan.format(b[3]) + '</td><td class="mark">' + mark + "</td></tr>";
    });
    $("leaderboard").tBodies[0].innerHTML = rows.join("");
    $("milestones").textContent = "above CNY 100 m: " + f.above_100m + " · above 1 bn: " + f.above_1b;
    $("alerts").innerHTML = f.alerts.map(function (a) {
      return '<li class="' + esc(a[1]) + '"><span class="t">' + clock(a[0]) + "</span>" + esc(a[2]) + "</li>"; }).join("");
    var c = f.alert_counts, parts = [];
    Object.keys(c).sort().forEach(function (k) { parts.push(k + " " + c[k]); });
    $("alert-counts").textContent = parts.join(" · ");
    document.body.setAttribute("data-seq", f.seq);
  }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }
  function control(action, value) {
    fetch(url("api/replay"), { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: action, value: value }) });
  }
  $("play").onclick = function () { control("play"); };
  $("pause").onclick = function () { control("pause"); };
  $("speed").onchange = function () { control("speed", Number($("speed").value)); };
  $("seek").onchange = function () { control("seek", Number($("seek").value)); };
  var es = new EventSource(url("events"));
  es.addEventListener("frame", function (e) { render(JSON.parse(e.data)); });
  es.onerror = function () { $("state").textContent = "reconnecting"; };
  window.addEventListener("resize", function () { [spark, ordersChart, water, map].forEach(function (c) { c.resize(); }); });
})();
