import EdgeInsightCore
import Foundation
@testable import Report
import Results
import Testing
import TestSupport

@Suite(.timeLimit(.minutes(3)), .enabled(if: Requirements.python3, "reads the SVG back with Python 3's XML parser: install python3")) struct PlotTests {
    func trial(_ model: String, _ placement: String, _ link: String?, p99: Double, fps: Double = 10) -> TrialRecord {
        var parameters = ["model": model, "placement": placement]
        parameters["link"] = link
        return TrialRecord(key: "\(model)-\(placement)-\(link ?? "")-\(p99)", repetition: 1, ok: true, config: try! TrialConfig(parameters: parameters),
                           metrics: [MetricValue(.latencyP99, p99), MetricValue(.throughput, fps)])
    }

    /// The SVG, read back by Python's XML parser: one bar per (model, placement, link) with data,
    /// each carrying the mean of its trials; on the log scale 10 → 100 → 1000 ms climb in equal
    /// steps, on the linear one a bar twice the value is twice as tall.
    @Test func barsCarryTheirMeansAndScalesAreTrue() throws {
        let trials = [
            trial("m", "edge", nil, p99: 10), trial("m", "edge", nil, p99: 30),            // mean 20
            trial("m", "cloud-raw", "lte", p99: 100), trial("m", "cloud-raw", "ethernet", p99: 1000),
            trial("n", "edge", nil, p99: 40),
            TrialRecord(key: "failed", repetition: 1, ok: false, config: try! TrialConfig(parameters: ["model": "m", "placement": "split"])),
        ]
        let logPlot = try ResultsPlot().svg(trials, title: "t <&>")
        var linear = ResultsPlot()
        linear.metric = .throughput
        let fps = [trial("m", "edge", nil, p99: 1, fps: 10), trial("m", "cloud-raw", "lte", p99: 1, fps: 20)]
        let linearPlot = try linear.svg(fps, title: "t")
        let script = #"""
        import sys, json, xml.etree.ElementTree as ET
        out = []
        for text in sys.argv[1:]:
            root = ET.fromstring(text)
            bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar"]
            out.append({(b.get("data-panel") + "|" + b.get("data-x") + "|" + b.get("data-series")): [float(b.get("data-value")), float(b.get("height"))] for b in bars})
        print(json.dumps(out))
        """#
        let result = try python(script, [logPlot, linearPlot])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: [Double]]], "\(result.stdout)\(result.stderr)")
        let log = parsed[0], lin = parsed[1]
        #expect(Set(log.keys) == ["m|edge|-", "m|cloud-raw|lte", "m|cloud-raw|ethernet", "n|edge|-"], "\(log.keys)")
        #expect(log["m|edge|-"]?[0] == 20 && log["m|cloud-raw|lte"]?[0] == 100 && log["m|cloud-raw|ethernet"]?[0] == 1000)
        let h10 = try #require(log["m|edge|-"]?[1]), h100 = try #require(log["m|cloud-raw|lte"]?[1]), h1000 = try #require(log["m|cloud-raw|ethernet"]?[1])
        // 20 ms sits log10(2) of a decade above 10 ms: the decade step is (h1000 - h100).
        let decade = h1000 - h100
        #expect(abs((h100 - h10) - decade * (1 - log10(2))) < 0.2, "\(h10) \(h100) \(h1000)")
        #expect(abs(lin["m|edge|-"]![1] * 2 - lin["m|cloud-raw|lte"]![1]) < 0.2, "\(lin)")
        #expect(logPlot.contains("t &lt;&amp;&gt;") && logPlot.contains("log scale") && !linearPlot.contains("log scale"))
    }

    @Test func unknownMetricsAndParametersAreNamedWithTheChoices() {
        // An edge-only run has no link: the defaults leave the colours out rather than fail.
        let edgeOnly = [trial("m", "edge", nil, p99: 1)]
        #expect(ResultsPlot.defaults(for: edgeOnly).series == nil && ResultsPlot.defaults(for: edgeOnly).panel == "model")
        #expect((try? ResultsPlot.defaults(for: edgeOnly).svg(edgeOnly, title: "t")) != nil)
        var plot = ResultsPlot()
        #expect(throws: ResultsError.invalid("no trial has metric 'latency_p95_ms'; the run has throughput_fps, latency_p99_ms")) {
            try ResultsPlot.metric(named: "latency_p95_ms", in: [trial("m", "edge", nil, p99: 1)])
        }
        plot.metric = .latencyP50
        #expect(throws: ResultsError.invalid("no trial has metric 'latency_p50_ms'; the run has throughput_fps, latency_p99_ms")) {
            try plot.svg([trial("m", "edge", nil, p99: 1)], title: "t")
        }
        plot = ResultsPlot()
        plot.x = "workload.fpz"
        do {
            _ = try plot.svg([trial("m", "edge", nil, p99: 1)], title: "t")
            Issue.record("an unknown parameter was plotted")
        } catch {
            #expect("\(error)".hasPrefix("no trial has parameter 'workload.fpz'; the run's parameters are ") && "\(error)".contains("workload.fps"), "\(error)")
        }
    }
}
