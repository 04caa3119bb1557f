import EdgeInsightCore
@testable import LoadGen
import Testing

/// The load generator's rules, in process (the command itself: Tests/EndToEndTests/LoadCommandTests.swift).
@Suite struct LoadGenUnitTests {
    @Test func stabilityRuleFollowsPerfAnalyzer() {
        func window(_ rps: Double, _ meanMs: Double) -> WindowResult {
            var latency = LatencySummary()
            latency.meanNs = meanMs * 1e6
            return WindowResult(seconds: 1, completed: 10, failed: 0, sent: 10, requestsPerSecond: rps, latency: latency, lateness: nil,
                                serverQueueMeanNs: nil, serverComputeMeanNs: nil, clientReceiveMeanNs: 0)
        }
        let policy = MeasurementPolicy()
        #expect(LoadGenerator.isStable([window(100, 10), window(105, 10.5), window(96, 9.7)], policy: policy))
        #expect(!LoadGenerator.isStable([window(100, 10), window(130, 10), window(96, 10)], policy: policy))
        #expect(!LoadGenerator.isStable([window(100, 10), window(100, 14), window(100, 10)], policy: policy))
        #expect(!LoadGenerator.isStable([window(100, 10), window(100, 10)], policy: policy))
    }

    @Test func rangesParse() {
        #expect(RangeText.parse("1:8:2") == [1, 3, 5, 7])
        #expect(RangeText.parse("4") == [4])
        #expect(RangeText.parse("100,250") == [100, 250])
        #expect(RangeText.parse("1:x") == nil)
    }
}
