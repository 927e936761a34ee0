import Foundation
import Testing
import TraceFormat

@testable import TraceAnalysis
@testable import TraceReports

/// The HTML page: golden file of a small scenario, the data it embeds checked against the simulator's truth
/// and the worked example of docs/ANALYSIS.md, bounded aggregation, and real headless Chromium renders of a
/// small and an aggregated page (axis, overview, no horizontal overflow at 900 px, a scripted click on a gap).
@Suite(.serialized) struct HTMLReportTests {
    struct Page {
        var html: String
        var result: AnalysisResult
        var truth: ScenarioTruth
        var bands: TimelineBands
    }

    static func page(_ s: Scenario, events: UInt64? = nil, bands: TimelineBands = TimelineBands()) throws -> Page {
        let path = NSTemporaryDirectory() + "html-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let truth = try ScenarioSimulator.run(s, seed: 1, events: events, output: path)
        var r = try TraceAnalyzer.analyze(paths: [path], bands: bands)
        r.files = ["\(s.rawValue).vftrace"]
        return Page(html: HTMLReport.render(r, bands: bands), result: r, truth: truth, bands: bands)
    }

    /// The JSON object the page's script draws from.
    static func embedded(_ html: String) throws -> [String: Any] {
        let open = "<script type=\"application/json\" id=\"trace-data\">"
        let start = try #require(html.range(of: open)).upperBound
        let end = try #require(html.range(of: "</script>", range: start..<html.endIndex)).lowerBound
        return try #require(JSONSerialization.jsonObject(with: Data(html[start..<end].utf8)) as? [String: Any])
    }

    @Test("HTML matches its golden file, escapes trace strings and references nothing outside itself")
    func golden() throws {
        let html = try Self.page(.racy).html
        try ReportFormatTests.golden("report-racy.html", html)
        #expect(HTMLReport.escape("<img src=x onerror=alert(1)>&\"'") == "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;")
        #expect(HTMLTimelineData.quote("</script><b>&") == "\"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\"")
        #expect(!html.contains("http://") && !html.contains("https://"), "self-contained: no network references")
        #expect(!html.contains("src="), "no external script or image")
    }

    @Test("the embedded lanes place the racy gap, state and bands where the truth says")
    func racyData() throws {
        let p = try Self.page(.racy)
        let t0 = try #require(p.result.startNs)
        let gap = try #require(p.truth.gaps.first)
        let data = try Self.embedded(p.html)
        let dev = try #require((data["devices"] as? [[String: Any]])?.first)
        let lanes = try #require(dev["lanes"] as? [String: [String: Any]])
        let gapSeg = try #require(lanes["gap"]?["seg"] as? [[UInt64]])
        #expect(gapSeg == [[gap.startNs - t0, gap.startNs + gap.durationNs - t0, 0]])
        // Trap required from the PRE_COPY set (the gap's start) until the restore; reachable until the gap's end.
        let trap = try #require(lanes["trap"]?["seg"] as? [[UInt64]])
        #expect(trap.first?[0] == gap.startNs - t0)
        let reach = try #require(lanes["reach"]?["seg"] as? [[UInt64]])
        #expect(reach.contains { $0[1] == gap.startNs + gap.durationNs - t0 })
        let states = try #require(data["states"] as? [String])
        let stateSeg = try #require(lanes["state"]?["seg"] as? [[UInt64]])
        #expect(stateSeg.map { states[Int($0[2])] } == ["PRE_COPY", "STOP_COPY", "STOP", "RUNNING"])
        #expect(stateSeg.first?[0] == gap.startNs - t0)
        // Every trigger of the truth is a tick.
        let ticks = try #require(lanes["trig"]?["seg"] as? [[UInt64]])
        #expect(ticks.map { $0[0] } == p.truth.triggers.map { $0.timeNs - t0 })
    }

    @Test("gap detail: the worked example's events, relative to the gap's start (docs/ANALYSIS.md)")
    func gapDetail() throws {
        let p = try Self.page(.racy)
        let gap = try #require(p.result.gaps.first)
        let events = HTMLGapDetail.events(gap, p.result)
        // 229 092 PRE_COPY, 308 715 signal, 431 303 eventfd read, 533 080 re-read, 645 155 memslot delete.
        #expect(events.map { $0.timeNs - gap.startNs } == [0, 79_623, 202_211, 303_988, 416_063])
        #expect(events.first?.label == "state change to PRE_COPY (traps required)")
        #expect(events.last?.label.hasPrefix("munmap / memslot delete") == true)
        #expect(p.html.contains("<span class=\"rel\">+79.6 µs</span> re-evaluate signal"))
        // p90, p99 and max are all the state trigger's 416 063 ns: one marker, one label.
        #expect(p.html.contains(">p90, p99, max 416 µs</text>"))
    }

    @Test("findings are grouped by kind with every one counted; the histogram labels both log axes and the percentiles")
    func groupsAndHistogram() throws {
        let p = try Self.page(.long, events: 150_000)
        let groups = HTMLFindings.groups(p.result)
        let gaps = try #require(groups.first { $0.kind == .trapGap })
        #expect(UInt64(gaps.total) == p.truth.summary.gapCount)
        #expect(p.html.contains("<span class=\"count\">\(p.truth.summary.gapCount)</span>"))
        #expect(p.html.contains("<summary>show \(min(gaps.listed.count, TraceAnalyzer.listedPerKind) - HTMLFindings.shownPerKind) more</summary>"))
        let svg = try #require(HTMLHistogram.svg(p.result))
        #expect(svg.contains("triggers (log scale)") && svg.contains("(log scale)</text>"))
        for name in ["p50", "p90", "p99", "max"] { #expect(svg.contains(">\(name) ") || svg.contains(" \(name) ") || svg.contains(">\(name), ")) }
        #expect(svg.contains(">1 ms</text>") || svg.contains(">100 µs</text>"))
    }

    @Test("bands past the exact limit: bounded buckets whose totals equal the exact intervals'")
    func aggregation() throws {
        let path = NSTemporaryDirectory() + "html-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try ScenarioSimulator.run(.long, seed: 3, events: 120_000, output: path)
        let exact = TimelineBands(exactLimit: .max, bucketCount: 64)
        let coarse = TimelineBands(exactLimit: 50, bucketCount: 64)
        _ = try TraceAnalyzer.analyze(paths: [path], bands: exact)
        _ = try TraceAnalyzer.analyze(paths: [path], bands: coarse)
        #expect(coarse.changes == nil)
        let changes = try #require(exact.changes)
        #expect(coarse.bucketCount == 64 && coarse.buckets.allSatisfy { $0.trapRequiredNs.count == 64 })
        for (i, dev) in exact.devices.enumerated() {
            var trap: UInt64 = 0
            var reach: UInt64 = 0
            var running: UInt64 = 0
            for (k, c) in changes[i].enumerated().dropLast() {
                let d = changes[i][k + 1].timeNs - c.timeNs
                if c.trapRequired { trap += d }
                if c.reachable { reach += d }
                if c.state >= 0 && exact.stateNames[c.state] == "RUNNING" { running += d }
            }
            let j = try #require(coarse.devices.firstIndex(of: dev))
            #expect(coarse.buckets[j].trapRequiredNs.reduce(0, +) == trap)
            #expect(coarse.buckets[j].reachableNs.reduce(0, +) == reach)
            let r = try #require(coarse.stateNames.firstIndex(of: "RUNNING"))
            #expect(coarse.buckets[j].stateNs[r].reduce(0, +) == running)
            #expect(coarse.buckets[j].changes.reduce(0) { $0 + Int($1) } == changes[i].count)
        }
    }

    // MARK: - Chromium

    static var browser: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs headless Chromium on a page: a screenshot (PNG bytes) and the DOM after the script ran.
    static func chromium(_ html: String, width: Int, fragment: String = "") throws -> (png: Data, dom: String) {
        let browser = try #require(Self.browser)
        let dir = NSTemporaryDirectory() + "html-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try html.write(toFile: dir + "/r.html", atomically: true, encoding: .utf8)
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=\(width),1400"]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: browser)
        p.arguments = flags + ["--screenshot=\(dir)/r.png", "file://\(dir)/r.html\(fragment)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: browser)
        dump.arguments = flags + ["--dump-dom", "file://\(dir)/r.html\(fragment)"]
        let out = Pipe()
        dump.standardOutput = out
        dump.standardError = FileHandle.nullDevice
        try dump.run()
        let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        return (try #require(FileManager.default.contents(atPath: dir + "/r.png")), dom)
    }

    static func count(_ s: String, in text: String) -> Int { text.components(separatedBy: s).count - 1 }

    /// The view a timeline shows after the script ran (data-view="from,to", ns from the trace start).
    static func view(_ dom: String) throws -> (UInt64, UInt64) {
        let r = try #require(dom.range(of: "data-view=\""))
        let v = dom[r.upperBound...].prefix { $0 != "\"" }.split(separator: ",").compactMap { UInt64($0) }
        try #require(v.count == 2)
        return (v[0], v[1])
    }

    @Test("headless Chromium: four timelines with axes and units, overview with brush, gaps, no overflow at 900 px")
    func chromiumSmall() throws {
        guard Self.browser != nil else {
            print("skipping: chromium not installed")
            return
        }
        let p = try Self.page(.manyDevices)
        let (png, dom) = try Self.chromium(p.html, width: 900)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(Self.count("<svg class=\"timeline\"", in: dom) == 4)
        #expect(Self.count("class=\"gap\"", in: dom) == p.truth.gaps.count)
        #expect(dom.contains("Device 0000:00:08.0"))
        #expect(dom.contains("class=\"brush\""))
        // An axis with units under every timeline and the overview: 1 + 4 axes, each with unit-labelled ticks.
        #expect(Self.count("class=\"axis\" x1=", in: dom) >= 5)
        let ticks = try NSRegularExpression(pattern: ">[0-9]+(\\.[0-9]+)? (ns|µs|ms|s)</text>")
        #expect(ticks.numberOfMatches(in: dom, range: NSRange(dom.startIndex..., in: dom)) >= 5 * 3)
        // Lane labels are drawn at 12 px (not scaled down with the page), and nothing is wider than the window.
        #expect(dom.contains("svg text.lane{font-size:12px"))
        let width = try #require(
            dom.range(of: "<svg class=\"timeline\"").flatMap { r in
                dom[r.upperBound...].range(of: "width=\"").map { Int(dom[$0.upperBound...].prefix { $0 != "\"" }) }
            })
        #expect((width ?? .max) <= 900 - 2 * 24)
    }

    @Test("headless Chromium: a scripted click on a gap zooms to it with context on both sides and opens its detail")
    func chromiumClick() throws {
        guard Self.browser != nil else {
            print("skipping: chromium not installed")
            return
        }
        let p = try Self.page(.manyDevices)
        let t0 = try #require(p.result.startNs)
        // The shortest gap: last in the list (longest first), with room on both sides of it in this trace.
        let shortest = try #require(p.truth.gaps.min { $0.durationNs < $1.durationNs })
        let row = p.truth.gaps.count - 1
        let (_, dom) = try Self.chromium(p.html, width: 1300, fragment: "#gap=\(row + 1)")
        #expect(dom.contains("<tr class=\"gap-row selected\" data-gap=\"\(row)\""))
        #expect(Self.count("<tr class=\"gap-detail\" data-gap=\"\(row)\">", in: dom) == 1, "its detail is shown")
        #expect(Self.count("<tr class=\"gap-detail\" data-gap=\"0\" hidden", in: dom) == 1, "the others' are not")
        let (from, to) = try Self.view(dom)
        let (s, e) = (shortest.startNs - t0, shortest.startNs + shortest.durationNs - t0)
        #expect(from + shortest.durationNs / 10 < s && e + shortest.durationNs / 10 < to, "context on both sides")
        #expect(to - from < 4 * shortest.durationNs)
        #expect(Self.count("class=\"gap-event\"", in: dom) >= 4, "the events that made it, marked")
    }

    @Test("an aggregated page stays small and renders: buckets, gap list of the longest, clickable")
    func chromiumAggregated() throws {
        let p = try Self.page(.long, events: 200_000, bands: TimelineBands(exactLimit: 100))
        #expect(p.bands.changes == nil)
        #expect(p.html.utf8.count < 1_000_000)
        let data = try Self.embedded(p.html)
        let lanes = try #require((data["devices"] as? [[String: Any]])?.first?["lanes"] as? [String: [String: Any]])
        #expect(lanes["state"]?["bw"] != nil && lanes["state"]?["seg"] == nil)
        guard Self.browser != nil else {
            print("skipping: chromium not installed")
            return
        }
        let (png, dom) = try Self.chromium(p.html, width: 1300, fragment: "#gap=1")
        #expect(png.count > 1000)
        #expect(Self.count("<svg class=\"timeline\"", in: dom) == 3)
        #expect(dom.contains("<tr class=\"gap-row selected\" data-gap=\"0\""))
        try #require(p.truth.complete)
        let longest = try #require(p.truth.gaps.max { $0.durationNs < $1.durationNs })
        let (from, to) = try Self.view(dom)
        let t0 = try #require(p.result.startNs)
        #expect(from < longest.startNs - t0 && longest.startNs + longest.durationNs - t0 < to)
    }
}
