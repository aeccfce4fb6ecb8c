// SMCP dashboard client script: copy buttons and metrics charts. Served as a file by the Worker
// (the CSP forbids inline script); the page works without it, only copying and charts need it.
(function () {
  'use strict';

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = document.createElement('textarea');
      area.value = text;
      area.setAttribute('readonly', '');
      area.className = 'offscreen';
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand('copy');
      document.body.removeChild(area);
      if (ok) resolve();
      else reject(new Error('copy refused'));
    });
  }

  function setupCopyButtons() {
    document.querySelectorAll('button[data-copy]').forEach(function (button) {
      var label = button.textContent;
      button.addEventListener('click', function () {
        var source = document.getElementById(button.getAttribute('data-copy'));
        if (!source) return;
        copyText(source.textContent).then(
          function () {
            button.textContent = 'Copied';
            button.setAttribute('data-copied', 'true');
          },
          function () {
            button.textContent = 'Select and copy manually';
          },
        );
        setTimeout(function () {
          button.textContent = label;
        }, 2500);
      });
    });
  }

  // Colour-blind-safe palette (Okabe–Ito) with enough contrast on light and dark backgrounds.
  var COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];

  function buckets(data) {
    var xs = [];
    for (var t = data.from; t < data.to; t += data.bucketMs) xs.push(t);
    return xs;
  }

  function column(data, xs, server, field, fill) {
    var byStart = {};
    data.series.forEach(function (p) {
      if (p.server === server) byStart[p.start] = p[field];
    });
    return xs.map(function (x) {
      var v = byStart[x];
      return v === undefined || v === null ? fill : v;
    });
  }

  function draw(el, xs, series, yLabel) {
    var width = Math.max(280, el.clientWidth || 600);
    var opts = {
      width: width,
      height: 220,
      series: [{ label: 'Time' }].concat(
        series.map(function (s, i) {
          return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 4 }, spanGaps: false };
        }),
      ),
      axes: [{}, { label: yLabel }],
      scales: { x: { time: true } },
    };
    var plotData = [
      xs.map(function (x) {
        return x / 1000;
      }),
    ].concat(
      series.map(function (s) {
        return s.values;
      }),
    );
    var chart = new window.uPlot(opts, plotData, el);
    var points = series.reduce(function (n, s) {
      return (
        n +
        s.values.filter(function (v) {
          return v !== null && v > 0;
        }).length
      );
    }, 0);
    el.setAttribute('data-rendered', 'true');
    el.setAttribute('data-points', String(points));
    return chart;
  }

  function setupCharts() {
    var root = document.getElementById('metrics-charts');
    if (!root || !window.uPlot) return;
    var data = JSON.parse(root.getAttribute('data-metrics'));
    var xs = buckets(data);
    draw(
      document.getElementById('chart-requests'),
      xs,
      data.servers.map(function (s) {
        return { label: s, values: column(data, xs, s, 'requests', 0) };
      }),
      'requests',
    );
    draw(
      document.getElementById('chart-errors'),
      xs,
      data.servers.map(function (s) {
        return { label: s, values: column(data, xs, s, 'errors', 0) };
      }),
      'errors',
    );
    root.querySelectorAll('[data-latency-server]').forEach(function (el) {
      var server = el.getAttribute('data-latency-server');
      draw(
        el,
        xs,
        ['p50', 'p95', 'p99'].map(function (p) {
          return { label: p, values: column(data, xs, server, p, null) };
        }),
        'ms',
      );
    });
    root.setAttribute('data-ready', 'true');
  }

  function start() {
    setupCopyButtons();
    setupCharts();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
