import EdgeInsightCore
import Foundation
@testable import LoadGen
@testable import Report
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3)), .enabled(if: Requirements.python3, "reads the SVG back with Python 3's XML parser: install python3")) struct LatencyCurveTests {
    func step(concurrency: Int, rps: Double, p50: Double, p90: Double, p99: Double) -> StepResult {
        StepResult(mode: "concurrency", concurrency: concurrency, targetRate: nil, stable: true, windows: [], requestsPerSecond: rps,
                   samplesPerSecond: rps, sentPerSecond: rps,
                   latency: LatencySummary(count: 100, meanNs: p50 * 1e6, minNs: p50 * 1e6, p50Ns: p50 * 1e6, p90Ns: p90 * 1e6, p95Ns: p90 * 1e6, p99Ns: p99 * 1e6, maxNs: p99 * 1e6),
                   lateness: nil, serverQueueMeanNs: nil, serverComputeMeanNs: nil, clientReceiveMeanNs: 0, failed: 0, clientFellBehind: false)
    }

    /// Read back by Python's XML parser: a point per step and percentile at its own throughput and
    /// latency; x is linear from 0 (100 req/s lies twice as far right as 50), and y climbs with
    /// latency (on a log scale here: 2 → 200 ms spans more than 20×).
    @Test func pointsSitWhereTheirStepsAre() throws {
        let steps = [step(concurrency: 1, rps: 50, p50: 2, p90: 3, p99: 4), step(concurrency: 2, rps: 100, p50: 5, p90: 8, p99: 10),
                     step(concurrency: 4, rps: 110, p50: 40, p90: 90, p99: 200)]
        let svg = LatencyCurve.svg(steps, title: "add at http://x")
        let script = #"""
        import sys, json, xml.etree.ElementTree as ET
        root = ET.fromstring(sys.argv[1])
        pts = [e for e in root.iter("{http://www.w3.org/2000/svg}circle") if e.get("class") == "point"]
        print(json.dumps([[p.get("data-percentile"), float(p.get("data-throughput")), float(p.get("data-ms")), float(p.get("cx")), float(p.get("cy"))] for p in pts]))
        """#
        let result = try python(script, [svg])
        let points = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[Any]], "\(result.stdout)\(result.stderr)")
        #expect(points.count == 9)
        let p99 = points.filter { $0[0] as? String == "p99" }
        #expect(p99.map { $0[2] as? Double } == [4, 10, 200])
        let left = 70.0
        let cx = p99.map { ($0[3] as? Double ?? 0) - left }
        #expect(abs(cx[1] - 2 * cx[0]) < 0.2, "\(cx)")
        let cy = points.sorted { ($0[2] as? Double ?? 0) < ($1[2] as? Double ?? 0) }.map { $0[4] as? Double ?? 0 }
        #expect(zip(cy, cy.dropFirst()).allSatisfy { $0 >= $1 }, "higher latency sits higher: \(cy)")
        #expect(svg.contains("log scale") && svg.contains(">c=4<"))
    }
}
