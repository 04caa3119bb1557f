import EdgeInsightCore
import Foundation
import Results
import Testing
import TestSupport

/// The report as people read it: written by `edgeinsight report` for a small run, loaded in headless
/// Chromium (no console errors, every chart drawn at a size), screenshot taken, and its numbers read
/// back against the database.
@Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: Requirements.chromium, "needs Debian's chromium: run scripts/setup"))
struct ReportBrowserTests {
    /// Six trials of two models, edge and cloud over two links, one trial that fell behind and one that failed.
    func writeRun(_ folder: String) throws {
        let database = try ResultsDatabase(path: folder + "/results.sqlite")
        let run = try database.openRun(name: "small", experiment: "small.yaml", environment: ["cores": "2", "cpu_model": "test CPU"], fresh: true)
        var index = 0
        for model in ["mobilenet_v2", "resnet50"] {
            for (placement, link) in [("edge", nil), ("cloud-raw", "lte"), ("cloud-raw", "ethernet")] as [(String, String?)] {
                index += 1
                var config = TrialConfig()
                try config.set("model", model)
                try config.set("placement", placement)
                if let link { try config.set("link", link) }
                try config.set("slo.p99", "200ms")
                let base = Double(index) * 11.5 + (model == "resnet50" ? 60 : 0)
                let dropped = index == 3 ? 7.0 : 0
                var record = TrialRecord(key: "\(model)-\(placement)-\(link ?? "none")", repetition: 1, ok: true, config: config, metrics: [
                    MetricValue(.throughput, 10 - dropped / 3), MetricValue(.latencyP50, base), MetricValue(.latencyP99, base * 1.7),
                    MetricValue(.framesDropped, dropped), MetricValue(.frameBytes, 25_000 + Double(index)), MetricValue(.stable, index % 2 == 0 ? 1 : 0),
                ])
                record.config = config
                record.stages = [StageRow(stage: .capture, count: 30, meanMs: 0.2, p50Ms: 0.2, p99Ms: 0.3),
                                 StageRow(stage: .preprocess, count: 30, meanMs: 2, p50Ms: 2, p99Ms: 3),
                                 StageRow(stage: placement == "edge" ? .infer : .network, count: 30, meanMs: base * 0.9, p50Ms: base, p99Ms: base * 1.7)]
                record.windows = (0..<4).map { WindowRow(index: $0, startSeconds: Double($0), throughput: 10, p50Ms: base, p99Ms: base * (1.5 + 0.1 * Double($0)), dropped: index == 3 ? $0 * 2 : 0) }
                try database.record(record, run: run)
            }
        }
        try database.record(TrialRecord(key: "failed", repetition: 1, ok: false, reason: "edge node failed: boom", config: try! TrialConfig(parameters: ["model": "resnet50", "placement": "split"]), metrics: []), run: run)
    }

    @Test func theReportLoadsInChromiumAndItsNumbersAreTheDatabases() throws {
        let folder = temporaryPath("report")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeRun(folder)
        let written = try edgeinsight(["report", "small", "--out", folder])
        #expect(written.status == 0, "\(written.stderr)")
        let page = folder + "/report-small.html"
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(written.stdout.contains("report: \(page)"))

        // Self-contained: nothing is fetched (SVG's xmlns is a name, not a request).
        #expect(html.range(of: #"(src|href)\s*=\s*"(https?:)?//"#, options: .regularExpression) == nil)
        #expect(!html.contains("@import") && !html.contains("url(http"))
        // The answer comes first, and says tied where the spreads overlap.
        let answer = try #require(html.range(of: "<section id=\"answer\">"))
        #expect(html.distance(from: html.startIndex, to: answer.lowerBound) < html.count / 4)
        #expect(html.contains("mobilenet_v2 over ethernet: edge is fastest"))

        // Every number in the trials table is the database's.
        let database = try ResultsDatabase(path: folder + "/results.sqlite")
        let trials = try database.trials(run: try database.run("small").id)
        let rows = html.components(separatedBy: "<tr data-key=\"").dropFirst()
        #expect(rows.count == trials.count)
        var checked = 0
        for row in rows {
            let key = String(row.prefix { $0 != "\"" })
            let trial = try #require(trials.first { $0.key == key })
            for cell in row.components(separatedBy: "data-metric=\"").dropFirst() {
                let key = String(cell.prefix { $0 != "\"" })
                let metric = try #require(Metric(key: key), "the page names a metric the table lacks: \(key)")
                let rest = cell.dropFirst(key.count + 1)
                guard rest.hasPrefix(" data-value=\"") else {
                    #expect(trial.metric(metric) == nil, "\(key) \(metric) is in the database but not on the page")
                    continue
                }
                let text = rest.dropFirst(" data-value=\"".count).prefix { $0 != "\"" }
                #expect(Double(text) == trial.metric(metric), "\(key) \(metric): page \(text), database \(trial.metric(metric) ?? .nan)")
                checked += 1
            }
        }
        #expect(checked == 6 * 6)

        // In the browser: an error listener installed first, a reporter last.
        let probe = folder + "/probe.html"
        let listener = "<script>window.__errors = []; addEventListener('error', e => __errors.push(String(e.message))); const __ce = console.error; console.error = (...a) => { __errors.push(a.join(' ')); __ce(...a); };</script>"
        let reporter = """
            <script>addEventListener('load', () => { const svgs = Array.from(document.querySelectorAll('svg')).map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
            document.querySelector('#trial-table th:nth-child(1)').click();
            const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify({errors: __errors, svgs: svgs, rows: document.querySelectorAll('#trial-table tbody tr').length});
            document.body.appendChild(pre); });</script>
            """
        try html.replacingOccurrences(of: "<head>", with: "<head>" + listener).replacingOccurrences(of: "</body>", with: reporter + "</body>")
            .write(toFile: probe, atomically: true, encoding: .utf8)
        let dom = try run("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000", "--dump-dom", "file://" + probe])
        let json = try #require(dom.stdout.components(separatedBy: "<pre id=\"probe\">").dropFirst().first?.components(separatedBy: "</pre>").first,
                                "no probe in the DOM: \(dom.stderr.suffix(500))")
        let probed = try #require(try JSONSerialization.jsonObject(with: Data(json.replacingOccurrences(of: "&quot;", with: "\"").utf8)) as? [String: Any])
        #expect((probed["errors"] as? [Any])?.isEmpty == true, "console errors: \(probed["errors"] ?? "")")
        let sizes = try #require(probed["svgs"] as? [[Double]])
        // The stage breakdown, p99 and throughput by placement (nothing else was swept), one trial that fell behind.
        #expect(sizes.count == 4, "charts: \(sizes.count)")
        #expect(sizes.allSatisfy { $0[0] > 50 && $0[1] > 50 }, "an SVG has no size: \(sizes)")
        #expect(probed["rows"] as? Int == trials.count)

        let screenshot = folder + "/report.png"
        let shot = try run("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400", "--screenshot=" + screenshot, "file://" + page])
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.count > 20_000 && png.prefix(4) == Data([0x89, 0x50, 0x4e, 0x47]), "\(shot.stderr.suffix(300))")
    }
}
