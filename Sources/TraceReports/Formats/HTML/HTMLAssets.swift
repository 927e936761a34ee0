/// The page's style sheet and script: hand-written, small, no library. The script draws the overview and the
/// timelines from the embedded data (`HTMLTimelineData`) for the current view, merging intervals or buckets
/// into at most one rectangle per pixel and lane, so the page's work is bounded by its width, not the trace.
enum HTMLAssets {
    static let css = """
        :root{--reach:#388e3c;--trap:#ef8f00;--gap:#d32f2f;--trigger:#1565c0;--phase0:#7b1fa2;--phase1:#0097a7;--phase2:#9e9d24}
        body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1600px}
        h1{font-size:22px} h2{font-size:18px;margin-top:28px} h3{font-size:15px;margin:16px 0 4px}
        table{border-collapse:collapse;margin:8px 0}
        td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left} th{background:#f3f3f3}
        .pass{color:#1a7f37} .fail{color:#c62828}
        .legend span{display:inline-block;margin-right:14px;font-size:13px}
        .legend i{display:inline-block;width:14px;height:14px;margin-right:5px;vertical-align:middle;border-radius:2px}
        .hint{font-size:13px;color:#555} #view-text{margin-left:8px;font-variant-numeric:tabular-nums}
        .lanes,.overview{border:1px solid #ddd;background:#fff}
        .gap-list{max-height:460px;overflow:auto;display:inline-block;border-bottom:1px solid #ddd}
        .overview{background:#fafafa} svg.timeline{cursor:grab;display:block} #overview{cursor:crosshair;display:block}
        svg text{font-size:12px;fill:#333} svg text.lane{font-size:12px;fill:#444}
        svg .grid{stroke:#eee} svg .sep{stroke:#f2f2f2} svg .axis{stroke:#888}
        .brush{fill:rgba(21,101,192,.15);stroke:#1565c0;stroke-width:1}
        .gap-mark{fill:none;stroke:#000;stroke-width:1.5} .gap-event{stroke:#000;stroke-dasharray:3 2}
        tr.gap-row{cursor:pointer} tr.gap-row:hover,tr.gap-row.selected{background:#fdecea}
        tr.gap-detail ol{margin:4px 0;padding-left:20px} .rel{display:inline-block;min-width:90px;font-variant-numeric:tabular-nums}
        svg.histogram .bin{fill:#1565c0} svg.histogram .tick{font-size:11px} svg.histogram .axis-title{font-size:12px}
        svg.histogram line.pct{stroke:#c62828;stroke-dasharray:4 3} svg.histogram text.pct{font-size:11px;fill:#c62828}
        .finding-group h3 .count{display:inline-block;background:#eee;border-radius:9px;padding:0 8px;font-size:12px}
        .sev{font-size:11px;text-transform:uppercase;padding:1px 5px;border-radius:3px;color:#fff;background:#777}
        .sev.error{background:#c62828} .sev.warning{background:#ef8f00} .note{font-size:13px;color:#555}
        """

    static let script = #"""
        (function () {
          'use strict';
          var started = performance.now();
          var D = JSON.parse(document.getElementById('trace-data').textContent);
          var style = getComputedStyle(document.documentElement);
          var LANES = [['state', 'migration state'], ['reach', 'guest-reachable'], ['trap', 'trap required'],
            ['gap', 'trap gaps'], ['trig', 'triggers'], ['phase', 'remap phases']];
          var NAMES = {reach: 'guest-reachable', trap: 'trap required', gap: 'trap gap'};
          var COUNTED = {state: 'changes', reach: 'changes', trap: 'changes', gap: 'gaps', trig: 'triggers', phase: 'remaps'};
          var PHASES = ['wake-up', 're-evaluation', 'trap effective'], KINDS = ['state trigger', 'signal trigger', 'marker trigger'];
          var LABEL = 128, LANE = 24, AXIS = 28, RIGHT = 12, MIN_VIEW = 20;
          var view = D.view.slice(), selected = null, pending = false;
          var timelines = Array.prototype.slice.call(document.querySelectorAll('svg.timeline'));
          var overview = document.getElementById('overview');

          function human(ns) {
            ns = Math.max(0, Math.round(ns));
            if (ns < 1000) return ns + ' ns';
            var u = ns < 1e6 ? [1e3, 'µs'] : ns < 1e9 ? [1e6, 'ms'] : [1e9, 's'], x = ns / u[0];
            return x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0) + ' ' + u[1];
          }
          function colour(lane, c) {
            if (lane === 'state') return D.stateColors[c] || '#ccc';
            if (lane === 'phase') return style.getPropertyValue('--phase' + c);
            return style.getPropertyValue({reach: '--reach', trap: '--trap', gap: '--gap', trig: '--trigger'}[lane]);
          }
          function label(lane, c) {
            return lane === 'state' ? D.states[c] : lane === 'phase' ? PHASES[c] : lane === 'trig' ? (KINDS[c] || 'trigger') : NAMES[lane];
          }
          function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
          function widthOf(svg) { return Math.max(240, svg.parentNode.clientWidth - LABEL - RIGHT); }

          // Per pixel of [a, b): nanoseconds per category (instants: their number), and how many items start there.
          function pixels(data, lane, W, a, b, ncat) {
            var acc = new Float64Array(W * ncat), cnt = new Float64Array(W), k = W / (b - a), instant = lane === 'trig';
            function add(s, e, c, w, n) {
              if (e < a || s >= b) return;
              if (instant) { var q = Math.floor((s - a) * k); if (q >= 0 && q < W) { acc[q * ncat + c] += n; cnt[q] += n; } return; }
              var p0 = Math.max(0, Math.floor((s - a) * k)), p1 = Math.min(W - 1, Math.floor((e - a) * k));
              cnt[p0] += n;
              for (var p = p0; p <= p1; p++) {
                var o = Math.min(e, a + (p + 1) / k) - Math.max(s, a + p / k);
                if (o > 0) acc[p * ncat + c] += o * w;
                else if (e === s) acc[p * ncat + c] += 1e-9;
              }
            }
            var i;
            if (data.seg) {
              for (i = 0; i < data.seg.length; i++) add(data.seg[i][0], data.seg[i][1], data.seg[i][2], 1, 1);
            } else {
              var i0 = Math.max(0, Math.floor((a - data.b0) / data.bw)), i1 = Math.min(data.w.length - 1, Math.floor((b - data.b0) / data.bw));
              for (i = i0; i <= i1; i++) {
                var c = data.c ? data.c[i] : 0, s = data.b0 + i * data.bw;
                if (!data.w[i] || c < 0) continue;
                if (instant) add(s + data.bw / 2, s + data.bw / 2, 0, 1, data.n[i]);
                else add(s, s + data.bw, c, data.w[i] / 1000, data.n ? data.n[i] : 0);
              }
            }
            return {acc: acc, cnt: cnt};
          }

          // One lane: runs of pixels with the same dominant category and coverage as rectangles, each with its tooltip.
          function lane(name, data, x0, y, h, W, a, b, cls) {
            var ncat = name === 'state' ? Math.max(1, D.states.length) : 3, P = pixels(data, name, W, a, b, ncat);
            var pxNs = (b - a) / W, out = [], run = null, bucketed = !data.seg;
            function flush() {
              if (!run) return;
              var from = a + run.p0 * pxNs, to = a + (run.p1 + 1) * pxNs, part = run.level < 10;
              var t = label(name, run.c) + (name === 'trig' ? ' at +' + human(from) : ' from +' + human(from) + ' to +' + human(to));
              if (part) t += ' (part of the time)';
              if (run.n > 1 || (bucketed && run.n > 0)) t += ', ' + Math.round(run.n) + ' ' + COUNTED[name];
              out.push('<rect' + (cls ? ' class="' + cls + '"' : '') + ' x="' + (x0 + run.p0) + '" y="' + y + '" width="' +
                Math.max(name === 'trig' ? 2 : 1, run.p1 - run.p0 + 1) + '" height="' + h + '" fill="' + colour(name, run.c) +
                '"' + (part ? ' fill-opacity="' + (0.35 + 0.06 * run.level).toFixed(2) + '"' : '') + '><title>' + esc(t) + '</title></rect>');
              run = null;
            }
            for (var p = 0; p < W; p++) {
              var best = -1, bestV = 0, total = 0;
              for (var c = 0; c < ncat; c++) { var v = P.acc[p * ncat + c]; total += v; if (v > bestV) { bestV = v; best = c; } }
              var level = 0;
              // Exact intervals fill every pixel they touch; a bucket's share of the time shades its pixels.
              if (total > 0) level = !bucketed || name === 'trig' ? 10 : Math.min(10, total / pxNs >= 0.999 ? 10 : 1 + Math.floor(total / pxNs * 9));
              var key = level ? best * 16 + level : -1;
              if (run && run.key === key) { run.p1 = p; run.n += P.cnt[p]; continue; }
              flush();
              if (level) run = {key: key, c: best, level: level, p0: p, p1: p, n: P.cnt[p]};
            }
            flush();
            return out.join('');
          }

          // A time axis with units: ticks of 1, 2 or 5 units; past nine digits, labels count from a base shown at the left.
          function axis(x0, top, y, W, a, b) {
            var raw = (b - a) / Math.max(2, W / 110), p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
            var step = p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
            function unit(ns) { return ns >= 1e9 ? [1e9, 's'] : ns >= 1e6 ? [1e6, 'ms'] : ns >= 1e3 ? [1e3, 'µs'] : [1, 'ns']; }
            function decimals(u) { return Math.max(0, Math.ceil(-Math.log10(step / u[0]) - 1e-9)); }
            var u = unit(b), digits = decimals(u), first = Math.ceil(a / step) * step, base = 0, out = [];
            if ((b / u[0]).toFixed(digits).length > 9) { base = first; u = unit(step); digits = decimals(u); }
            out.push('<line class="axis" x1="' + x0 + '" x2="' + (x0 + W) + '" y1="' + y + '" y2="' + y + '"/>');
            for (var t = first; t <= b; t += step) {
              var x = x0 + (t - a) / (b - a) * W;
              out.push('<line class="grid" x1="' + x + '" x2="' + x + '" y1="' + top + '" y2="' + y + '"/>');
              out.push('<line class="axis" x1="' + x + '" x2="' + x + '" y1="' + y + '" y2="' + (y + 4) + '"/>');
              var text = (base ? '+' : '') + ((t - base) / u[0]).toFixed(digits) + ' ' + u[1];
              out.push('<text x="' + x + '" y="' + (y + 16) + '" text-anchor="' + (x - x0 < 30 ? 'start' : x0 + W - x < 30 ? 'end' : 'middle') + '">' + text + '</text>');
            }
            out.push('<text x="4" y="' + (y + 16) + '" class="lane">' + (base ? 'from +' + esc(human(base)) : 'since start') + '</text>');
            return out.join('');
          }

          function drawTimeline(svg) {
            var dev = D.devices[+svg.dataset.device], W = widthOf(svg), out = [], a = view[0], b = view[1];
            LANES.forEach(function (l, i) {
              out.push('<text class="lane" x="4" y="' + (i * LANE + 16) + '">' + l[1] + '</text>');
              out.push('<line class="sep" x1="0" x2="' + (LABEL + W) + '" y1="' + ((i + 1) * LANE) + '" y2="' + ((i + 1) * LANE) + '"/>');
            });
            out.push(axis(LABEL, 0, LANES.length * LANE, W, a, b));
            LANES.forEach(function (l, i) {
              var data = dev.lanes[l[0]], h = LANE - 6;
              if (!data) return;
              if (l[0] === 'state' && dev.lanes.state2) {
                // Aggregated: the state most of each bucket above, the next one below.
                out.push(lane('state', data, LABEL, i * LANE + 3, Math.round(h * 0.6), W, a, b, ''));
                out.push(lane('state', dev.lanes.state2, LABEL, i * LANE + 3 + Math.round(h * 0.6), h - Math.round(h * 0.6), W, a, b, ''));
                return;
              }
              out.push(lane(l[0], data, LABEL, i * LANE + 3, h, W, a, b, l[0] === 'gap' ? 'gap' : ''));
            });
            if (selected && D.devices[selected.d] === dev) {
              var sx = LABEL + (selected.s - a) / (b - a) * W, ex = LABEL + (selected.e - a) / (b - a) * W;
              out.push('<rect class="gap-mark" x="' + (sx - 1) + '" y="' + (3 * LANE + 1) + '" width="' + Math.max(3, ex - sx + 2) + '" height="' + (LANE - 2) + '"/>');
              selected.ev.forEach(function (e) {
                var x = LABEL + (e[0] - a) / (b - a) * W;
                if (x >= LABEL && x <= LABEL + W) {
                  out.push('<line class="gap-event" x1="' + x + '" x2="' + x + '" y1="0" y2="' + (LANES.length * LANE) + '"><title>' + esc(e[1]) + '</title></line>');
                }
              });
            }
            svg.setAttribute('width', LABEL + W + RIGHT);
            svg.setAttribute('height', LANES.length * LANE + AXIS);
            svg.dataset.view = Math.round(a) + ',' + Math.round(b);
            svg.innerHTML = out.join('');
          }

          function drawOverview() {
            var W = widthOf(overview), n = D.devices.length, rowH = n > 8 ? 6 : 12, out = [], y = 4;
            D.devices.forEach(function (dev, i) {
              out.push('<text class="lane" x="4" y="' + (y + rowH - 2) + '" font-size="' + Math.min(12, rowH + 2) + '">' + esc(dev.name) + '</text>');
              if (dev.lanes.state) out.push(lane('state', dev.lanes.state, LABEL, y, rowH, W, 0, D.span, ''));
              if (dev.lanes.gap) out.push(lane('gap', dev.lanes.gap, LABEL, y, rowH, W, 0, D.span, ''));
              y += rowH + 3;
            });
            out.push(axis(LABEL, 0, y + 2, W, 0, D.span));
            var bx = LABEL + view[0] / D.span * W, bw = Math.max(2, (view[1] - view[0]) / D.span * W);
            out.push('<rect class="brush" x="' + bx + '" y="1" width="' + bw + '" height="' + (y + 1) + '"/>');
            overview.setAttribute('width', LABEL + W + RIGHT);
            overview.setAttribute('height', y + AXIS);
            overview.innerHTML = out.join('');
          }

          function draw() {
            pending = false;
            drawOverview();
            timelines.forEach(drawTimeline);
            document.getElementById('view-text').textContent = 'showing +' + human(view[0]) + ' to +' + human(view[1]) + ' (' + human(view[1] - view[0]) + ')';
          }
          function setView(a, b) {
            var w = Math.min(D.span, Math.max(MIN_VIEW, b - a));
            a = Math.max(0, Math.min(a, D.span - w));
            view = [a, a + w];
            if (!pending) { pending = true; requestAnimationFrame(draw); }
          }
          function timeAt(svg, clientX, a, b) {
            var r = svg.getBoundingClientRect();
            return a + (clientX - r.left - LABEL) / widthOf(svg) * (b - a);
          }

          timelines.forEach(function (svg) {
            var drag = null;
            svg.addEventListener('wheel', function (e) {
              e.preventDefault();
              var t = timeAt(svg, e.clientX, view[0], view[1]), k = e.deltaY < 0 ? 0.8 : 1.25;
              setView(t - (t - view[0]) * k, t + (view[1] - t) * k);
            }, {passive: false});
            svg.addEventListener('mousedown', function (e) { drag = {x: e.clientX, view: view.slice()}; e.preventDefault(); });
            window.addEventListener('mousemove', function (e) {
              if (!drag) return;
              var dt = (e.clientX - drag.x) / widthOf(svg) * (drag.view[1] - drag.view[0]);
              setView(drag.view[0] - dt, drag.view[1] - dt);
            });
            window.addEventListener('mouseup', function () { drag = null; });
          });
          var brush = null;
          overview.addEventListener('mousedown', function (e) { brush = timeAt(overview, e.clientX, 0, D.span); e.preventDefault(); });
          window.addEventListener('mouseup', function (e) {
            if (brush === null) return;
            var t = timeAt(overview, e.clientX, 0, D.span), w = view[1] - view[0];
            if (Math.abs(t - brush) / D.span * widthOf(overview) < 3) setView(t - w / 2, t + w / 2);
            else setView(Math.min(t, brush), Math.max(t, brush));
            brush = null;
          });
          overview.addEventListener('mousemove', function (e) {
            if (brush === null) return;
            var r = overview.querySelector('.brush'), t = timeAt(overview, e.clientX, 0, D.span), W = widthOf(overview);
            r.setAttribute('x', LABEL + Math.max(0, Math.min(t, brush)) / D.span * W);
            r.setAttribute('width', Math.abs(t - brush) / D.span * W);
          });
          document.getElementById('show-all').addEventListener('click', function () { setView(0, D.span); });
          document.getElementById('show-activity').addEventListener('click', function () { setView(D.view[0], D.view[1]); });

          // A gap in the list: zoom to it and the events that made it, with as much again on both sides.
          function selectGap(row) {
            var i = +row.dataset.gap, g = D.gaps[i], lo = g.s, hi = g.e;
            g.ev.forEach(function (e) { lo = Math.min(lo, e[0]); hi = Math.max(hi, e[0]); });
            var pad = Math.max((hi - lo) * 0.5, MIN_VIEW);
            selected = g;
            document.querySelectorAll('tr.gap-row').forEach(function (r) { r.classList.toggle('selected', r === row); });
            document.querySelectorAll('tr.gap-detail').forEach(function (r) { r.hidden = +r.dataset.gap !== i; });
            setView(lo - pad, hi + pad);
          }
          document.querySelectorAll('tr.gap-row').forEach(function (row) {
            row.addEventListener('click', function () { selectGap(row); });
            row.addEventListener('keydown', function (e) { if (e.key === 'Enter') selectGap(row); });
          });
          window.addEventListener('resize', function () { setView(view[0], view[1]); });

          draw();
          // #gap=N (1 = the longest) opens that gap, through the same click a person makes.
          var m = /^#gap=(\d+)$/.exec(location.hash), row = m && document.querySelector('tr.gap-row[data-gap="' + (+m[1] - 1) + '"]');
          if (row) { row.click(); draw(); }
          // For the tests and the benchmark: the script's own time, and the time since navigation began.
          document.documentElement.dataset.drawMs = (performance.now() - started).toFixed(1);
          document.documentElement.dataset.readyMs = performance.now().toFixed(1);
        })();
        """#
}
