import Results
@testable import Testbed
import Testing

/// A trial's stability: the one rule (StabilityRule) on its windows' throughput and p99.
@Suite struct TrialStabilityTests {
    func window(_ index: Int, fps: Double, p50: Double, p99: Double) -> WindowRow {
        WindowRow(index: index, startSeconds: Double(index), throughput: fps, p50Ms: p50, p99Ms: p99, dropped: 0)
    }

    @Test func theLastThreeWindowsThroughputAndP99Decide() {
        // A first window far off (the device warming) does not count; the last three are within 10%.
        let settling = [window(0, fps: 4, p50: 300, p99: 900), window(1, fps: 10, p50: 40, p99: 60),
                        window(2, fps: 10.5, p50: 41, p99: 63), window(3, fps: 10.2, p50: 40, p99: 65)]
        #expect(Runner.isStable(settling))
        // Same p50 throughout, but the tail grows 20%: a queue building up is not stable.
        let growingTail = [window(0, fps: 10, p50: 40, p99: 60), window(1, fps: 10, p50: 40, p99: 66), window(2, fps: 10, p50: 40, p99: 72)]
        #expect(!Runner.isStable(growingTail))
        // Two windows are too few to judge.
        #expect(!Runner.isStable(Array(settling.prefix(2))))
    }
}
