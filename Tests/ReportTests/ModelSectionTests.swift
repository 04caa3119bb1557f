import EdgeInsightCore
import Foundation
@testable import Modeling
import Report
@testable import Results
import Testing

/// The report's model table against a hand count.
@Suite struct ModelSectionTests {
    /// Four trials, p99 measured and predicted: errors 5%, 30%, 15% and 2% (mean 13%), two within
    /// ±10%, three within ±20%, one measurement inside its prediction's 80% band.
    @Test func theModelTableShowsTheErrorsAndTheBandAsCounted() throws {
        let cases: [(measured: Double, predicted: Double, band: ClosedRange<Double>)] = [
            (10, 10.5, 9...12), (20, 26, 22...30), (40, 34, 35...38), (50, 51, 40...48),
        ]
        let pairs = cases.enumerated().map { index, c in
            Validation.Pair(trial: TrialRecord(key: "t\(index)", repetition: 1, ok: true, config: try! TrialConfig(parameters: ["model": "m", "placement": "edge"]),
                                               metrics: [MetricValue(.latencyP99, c.measured)]),
                            prediction: PerformanceModel.Prediction(config: TrialConfig(), metrics: [
                                MetricValue(.latencyP99, c.predicted), MetricValue(Metric.band(.latencyP99).low, c.band.lowerBound),
                                MetricValue(Metric.band(.latencyP99).high, c.band.upperBound),
                            ], stages: [], deviceSaturatedMs: 0))
        }
        let run = RunSummary(id: 1, name: "r", experiment: "r.yaml", startedAt: Date(), trials: 4, failed: 0, environment: [:])
        let html = ReportPage.html(ReportContent(run: run, trials: pairs.map(\.trial), validation: (Validation(pairs), "predicted")))
        #expect(html.contains("<tr><td>latency_p99_ms</td><td>4</td><td>13.0%</td><td>50%</td><td>75%</td><td>25%</td></tr>"))
    }
}
