import EdgeInsightCore
import Testing

@Suite struct TraceTests {
    @Test func markedSpansTileTheItemsLifetime() {
        var trace = ItemTrace(item: 7)
        trace.spans.append(Span(.capture, 1_000, 1_500))
        trace.mark(.encode, until: 2_000)
        trace.mark(.queue, until: 5_000)
        trace.mark(.infer, until: 9_000)
        #expect(trace.spans.map(\.stage) == [.capture, .encode, .queue, .infer])
        #expect(trace.spans.map(\.durationNs) == [500, 500, 3_000, 4_000])
        #expect(trace.endToEndNs == 8_000)
        // A span never runs backwards, even if a clock reading does.
        #expect(Span(.send, 10, 5).durationNs == 0)
    }

    @Test func statisticsKeepStageOrderAndSumToEndToEnd() {
        var statistics = StageStatistics()
        for item in 0..<100 {
            var trace = ItemTrace(item: item)
            let start = UInt64(item) * 1_000_000
            trace.spans.append(Span(.capture, start, start + 100_000))
            trace.mark(.queue, until: start + 300_000 + UInt64(item) * 1_000)
            trace.mark(.infer, until: start + 800_000 + UInt64(item) * 1_000)
            statistics.add(trace)
        }
        let stages = statistics.stages
        #expect(stages.map(\.stage) == [.capture, .queue, .infer])
        #expect(stages.allSatisfy { $0.latency.count == 100 })
        let sum = stages.reduce(0) { $0 + $1.latency.meanNs }
        #expect(abs(sum - statistics.endToEnd.summary.meanNs) / sum < 0.002)
        // Queue waits are 200 us + item us: p50 near 250 us.
        let queue = stages[1].latency
        #expect(abs(queue.p50Ns - 249_000) < 1_500)
    }
}
