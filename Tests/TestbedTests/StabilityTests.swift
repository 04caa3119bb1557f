import Results
@testable import Testbed
import Testing

/// A trial's stability: the trial's rule (`StabilityRule.isSteady`) on its windows' frames, medians and p99s.
@Suite struct TrialStabilityTests {
    func window(_ index: Int, fps: Double, p50: Double, p99: Double) -> WindowRow {
        WindowRow(index: index, startSeconds: Double(index), throughput: fps, p50Ms: p50, p99Ms: p99, dropped: 0)
    }

    @Test func theLastThreeWindowsFramesAndMediansDecide() {
        // A first window far off (the device warming) does not count; the last three are within 10%.
        let settling = [window(0, fps: 4, p50: 300, p99: 900), window(1, fps: 10, p50: 40, p99: 60),
                        window(2, fps: 10.5, p50: 41, p99: 63), window(3, fps: 10.2, p50: 40, p99: 65)]
        #expect(Runner.isStable(settling))
        // A queue building up: fewer frames answered each second (10, 8, 6), the median climbing.
        let fallingBehind = [window(0, fps: 10, p50: 40, p99: 60), window(1, fps: 8, p50: 60, p99: 90), window(2, fps: 6, p50: 80, p99: 120)]
        #expect(!Runner.isStable(fallingBehind))
        // The median drifting well past its sampling error over windows of 100 frames.
        let drifting = [window(0, fps: 100, p50: 40, p99: 44), window(1, fps: 100, p50: 46, p99: 50), window(2, fps: 100, p50: 52, p99: 57)]
        #expect(!Runner.isStable(drifting))
        // Two windows are too few to judge.
        #expect(!Runner.isStable(Array(settling.prefix(2))))
    }
}
