import EdgeInsightCore
@testable import LoadGen
import Testing

/// The load generator's rules, in process (the command itself: Tests/EndToEndTests/LoadCommandTests.swift).
@Suite struct LoadGenUnitTests {
    /// A failure is told in the server's words: OIP's error field, a traceback's exception, a
    /// plain body's first line; counts commonest first, one message per status.
    @Test func failuresCarryTheServersWords() {
        #expect(Failures.message(fromBody: Array(#"{"error": "unknown model 'x'"}"#.utf8)) == "unknown model 'x'")
        let traceback = "Traceback (most recent call last):\n  File \"a.py\", line 3, in predict\n    raise ValueError(\"bad\")\nValueError: bad\n"
        #expect(Failures.message(fromBody: Array(traceback.utf8)) == "ValueError: bad")
        #expect(Failures.message(fromBody: Array("Bad Gateway\n<details>".utf8)) == "Bad Gateway")
        #expect(Failures.message(fromBody: []) == nil)
        #expect(Failures.message(fromBody: Array(String(repeating: "x", count: 500).utf8))?.count == 158)
        var failures = Failures()
        failures.add(status: 0, message: "connection refused")
        for _ in 0..<3 { failures.add(status: 400, message: "binary tensors are not supported") }
        failures.add(status: 400, message: "another wording")
        var more = Failures()
        more.add(status: 0, message: "timed out")
        failures.merge(more)
        #expect(failures.total == 6 && failures[400] == 4 && failures[0] == 2)
        #expect(failures.text == #"4× HTTP 400 "binary tensors are not supported", 2× no answer "connection refused""#)
    }

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
