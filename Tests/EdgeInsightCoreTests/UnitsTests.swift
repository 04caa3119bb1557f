import EdgeInsightCore
import Testing

@Suite struct UnitsTests {
    @Test(arguments: [
        ("1500", Int64(1500)), ("1.5kB", 1500), ("2MB", 2_000_000), ("3MiB", 3_145_728), ("4KiB", 4096),
        ("1GB", 1_000_000_000), ("512B", 512), (" 7 mb ", 7_000_000),
    ])
    func bytesParse(text: String, expected: Int64) {
        #expect(Bytes(parsing: text)?.count == expected)
    }

    @Test(arguments: ["", "MB", "abc", "-1MB", "3 parsecs", "1..2kB"])
    func bytesRejectsNonsense(text: String) {
        #expect(Bytes(parsing: text) == nil)
    }

    @Test func bytesPrintInDecimalUnits() {
        #expect(Bytes(3_500_000).description == "3.5MB")
        #expect(Bytes(999).description == "999B")
        #expect(Bytes(102_400_000).description == "102.4MB")
        #expect(Bytes(1_000).description == "1kB")
    }

    @Test(arguments: [
        ("40ms", 0.040), ("1.5s", 1.5), ("2m", 120.0), ("250us", 0.000_25), ("10", 10.0), ("1h", 3600.0), ("500ns", 5e-7),
    ])
    func durationParse(text: String, seconds: Double) throws {
        let duration = try #require(DurationText.parse(text))
        #expect(abs(duration.seconds - seconds) < 1e-12)
    }

    @Test(arguments: ["", "fast", "-3s", "10 parsecs", "ms"])
    func durationRejectsNonsense(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func durationFormatPicksReadableUnit() {
        #expect(DurationText.format(nanoseconds: 12_300_000) == "12.3ms")
        #expect(DurationText.format(nanoseconds: 850_000) == "850us")
        #expect(DurationText.format(nanoseconds: 4_050_000_000) == "4.05s")
        #expect(DurationText.format(nanoseconds: 42) == "42ns")
        #expect(DurationText.format(.milliseconds(2)) == "2ms")
    }

    @Test func countsPrintWithSuffixes() {
        #expect(CountText.format(3_490_000) == "3.49M")
        #expect(CountText.format(4_090_000_000) == "4.09G")
        #expect(CountText.format(56_500_000) == "56.5M")
        #expect(CountText.format(12) == "12")
    }
}

@Suite struct LatencyHistogramTests {
    @Test func percentilesMatchAHandComputedUniformSet() {
        var histogram = LatencyHistogram()
        // 1..1000 microseconds: the p-th percentile is p*10 us, the mean 500.5 us.
        for us in 1...1000 { histogram.record(nanoseconds: UInt64(us) * 1000) }
        let summary = histogram.summary
        #expect(summary.count == 1000)
        #expect(abs(summary.meanNs - 500_500) / 500_500 < 0.001)
        #expect(abs(summary.p50Ns - 500_000) / 500_000 < 0.002)
        #expect(abs(summary.p90Ns - 900_000) / 900_000 < 0.002)
        #expect(abs(summary.p99Ns - 990_000) / 990_000 < 0.002)
        #expect(abs(summary.maxNs - 1_000_000) / 1_000_000 < 0.002)
        #expect(abs(summary.minNs - 1_000) / 1_000 < 0.002)
    }

    @Test func mergeAddsSamples() {
        var fast = LatencyHistogram(), slow = LatencyHistogram()
        for _ in 0..<90 { fast.record(nanoseconds: 1_000_000) }
        for _ in 0..<10 { slow.record(nanoseconds: 50_000_000) }
        fast.merge(slow)
        #expect(fast.count == 100)
        #expect(abs(fast.summary.p50Ns - 1_000_000) / 1_000_000 < 0.002)
        #expect(abs(fast.summary.p99Ns - 50_000_000) / 50_000_000 < 0.002)
    }

    @Test func emptyHistogramSummarisesToZero() {
        #expect(LatencyHistogram().summary == LatencySummary())
    }
}

@Suite struct SeededRandomTests {
    @Test func sameSeedSameSequenceAndFloatsInRange() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
        var values = SeededRandom(seed: 7)
        let floats = (0..<10_000).map { _ in values.nextSignedUnitFloat() }
        #expect(floats.allSatisfy { $0 >= -1 && $0 < 1 })
        // Uniform on [-1, 1): mean near 0, variance near 1/3.
        let mean = floats.reduce(0, +) / Float(floats.count)
        let variance = floats.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(floats.count)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1.0 / 3.0) < 0.02)
    }
}

@Suite struct TextTableTests {
    @Test func alignsNumbersRightAndTextLeft() {
        var table = TextTable(["model", "MACs"])
        table.add(["resnet50", "4.09G"])
        table.add(["add", "0"])
        let lines = table.rendered.split(separator: "\n").map(String.init)
        #expect(lines == ["model     MACs", "--------  -----", "resnet50  4.09G", "add           0"])
    }

    @Test(arguments: [
        ("20mbit", 20e6), ("20Mbit/s", 20e6), ("20mbps", 20e6), ("1.5gbit", 1.5e9), ("512kbit", 512e3), ("100000", 1e5),
    ])
    func bandwidthParse(text: String, bitsPerSecond: Double) {
        #expect(Bandwidth(parsing: text)?.bitsPerSecond == bitsPerSecond)
    }

    @Test(arguments: ["", "fast", "0mbit", "-3mbit", "20 parsecs", "mbit"])
    func bandwidthRejectsNonsense(text: String) {
        #expect(Bandwidth(parsing: text) == nil)
    }

    @Test func bandwidthPrintsAndConverts() {
        #expect(Bandwidth(bitsPerSecond: 20e6).description == "20Mbit/s")
        #expect(Bandwidth(bitsPerSecond: 2.5e9).description == "2.5Gbit/s")
        // 10 MB at 20 Mbit/s: 80e6 bits / 20e6 bit/s = 4 s.
        #expect(Bandwidth(bitsPerSecond: 20e6).transmissionNanoseconds(10_000_000) == 4e9)
    }
}

@Suite struct FNV1aTests {
    /// The published FNV-1a 64-bit test vectors (the offset basis for no bytes); added in parts, the same.
    @Test func matchesThePublishedVectors() {
        #expect(FNV1a([]).value == 0xcbf2_9ce4_8422_2325)
        #expect(FNV1a("a".utf8).value == 0xaf63_dc4c_8601_ec8c)
        #expect(FNV1a("foobar".utf8).value == 0x8594_4171_f739_67e8)
        var parts = FNV1a()
        parts.add("foo".utf8)
        parts.add("bar".utf8)
        #expect(parts == FNV1a("foobar".utf8))
    }
}
