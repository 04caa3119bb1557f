import Foundation

/// One timed stage of one item, on the monotonic clock (nanoseconds).
public struct Span: Sendable, Codable, Equatable {
    public var stage: Stage
    public var startNs: UInt64
    public var endNs: UInt64

    public init(_ stage: Stage, _ startNs: UInt64, _ endNs: UInt64) {
        self.stage = stage
        self.startNs = startNs
        self.endNs = max(startNs, endNs)
    }

    public var durationNs: UInt64 { endNs - startNs }
}

/// The spans of one item (a frame, a request), in order.
public struct ItemTrace: Sendable {
    public var item: Int
    public var spans: [Span] = []
    /// Why the item failed, if it did (it then has the spans up to the failure).
    public var error: String?

    public init(item: Int) {
        self.item = item
        spans.reserveCapacity(8)
    }

    /// Appends a span that starts where the previous one ended, so spans tile the item's lifetime.
    public mutating func mark(_ stage: Stage, until end: UInt64) {
        let start = spans.last?.endNs ?? end
        spans.append(Span(stage, start, end))
    }

    /// Start of the first span to end of the last.
    public var endToEndNs: UInt64 { (spans.last?.endNs ?? 0) - (spans.first?.startNs ?? 0) }
}

/// Latency statistics per stage and end to end.
public struct StageStatistics: Sendable {
    private var perStage = [LatencyHistogram](repeating: LatencyHistogram(), count: Stage.allCases.count)
    /// Stages in the order items went through them.
    private var order: [Stage] = []
    public private(set) var endToEnd = LatencyHistogram()

    public init() {}

    /// Adds a completed item's spans.
    public mutating func add(_ trace: ItemTrace) {
        for span in trace.spans {
            if perStage[span.stage.index].count == 0 && !order.contains(span.stage) { order.append(span.stage) }
            perStage[span.stage.index].record(nanoseconds: span.durationNs)
        }
        endToEnd.record(nanoseconds: trace.endToEndNs)
    }

    /// Summaries of the stages that occurred, in the order items passed through them.
    public var stages: [StageSummary] {
        order.map { StageSummary(stage: $0, latency: perStage[$0.index].summary, quantilesNs: perStage[$0.index].quantiles) }
    }
}

/// A stage's latency summary.
public struct StageSummary: Sendable, Codable, Equatable {
    public var stage: Stage
    public var latency: LatencySummary
    /// The whole distribution: the value at each percentile 1…99, then p99.9 (`LatencyHistogram.quantiles`).
    public var quantilesNs: [Double]?
}

extension Stage {
    /// Position in `allCases`, for array-indexed per-stage storage.
    public var index: Int { Stage.allCases.firstIndex(of: self)! }
}

/// Writes item traces as JSON lines (one item per line) and/or Chrome trace-event JSON
/// (opens in Perfetto or chrome://tracing). Times are microseconds since `origin`.
public final class TraceWriter {
    private var jsonLines: FileHandle?
    private var chrome: FileHandle?
    private var firstChromeEvent = true
    private let origin: UInt64
    private var buffer = Data()

    /// Opens the files to write (either may be nil); fails with a one-line message.
    public init(jsonLinesPath: String?, chromePath: String?, origin: UInt64) throws(TraceError) {
        self.origin = origin
        jsonLines = try jsonLinesPath.map { path throws(TraceError) in try Self.create(path) }
        chrome = try chromePath.map { path throws(TraceError) in try Self.create(path) }
        if let chrome {
            var header = #"{"displayTimeUnit":"ms","traceEvents":["#
            for (tid, name) in [(1, "source"), (2, "queue"), (3, "device")] {
                header += (tid == 1 ? "" : ",") + #"{"name":"thread_name","ph":"M","pid":1,"tid":\#(tid),"args":{"name":"\#(name)"}}"#
            }
            firstChromeEvent = false
            chrome.write(Data(header.utf8))
        }
    }

    /// Records one item.
    public func write(_ trace: ItemTrace) {
        if jsonLines != nil {
            var line = #"{"item":\#(trace.item)"#
            if let error = trace.error { line += #","error":\#(Self.quoted(error))"# }
            line += #","spans":["#
            line += trace.spans.map { #"{"stage":"\#($0.stage.rawValue)","start_us":\#(micros($0.startNs)),"dur_us":\#(Double($0.durationNs) / 1000)}"# }.joined(separator: ",")
            line += "]}\n"
            jsonLines?.write(Data(line.utf8))
        }
        if chrome != nil {
            for span in trace.spans {
                let tid: Int
                switch span.stage {
                case .capture, .encode: tid = 1
                case .queue: tid = 2
                default: tid = 3
                }
                buffer.append(contentsOf: (firstChromeEvent ? "" : ",").utf8)
                firstChromeEvent = false
                buffer.append(contentsOf: #"{"name":"\#(span.stage.rawValue)","cat":"item","ph":"X","pid":1,"tid":\#(tid),"ts":\#(micros(span.startNs)),"dur":\#(Double(span.durationNs) / 1000),"args":{"item":\#(trace.item)}}"#.utf8)
            }
            if buffer.count > 1 << 16 { flushChrome() }
        }
    }

    /// Finishes both files.
    public func close() {
        flushChrome()
        chrome?.write(Data("]}\n".utf8))
        try? chrome?.close()
        try? jsonLines?.close()
        chrome = nil
        jsonLines = nil
    }

    deinit { close() }

    private func flushChrome() {
        guard !buffer.isEmpty else { return }
        chrome?.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func micros(_ ns: UInt64) -> Double { Double(Int64(bitPattern: ns &- origin)) / 1000 }

    private static func create(_ path: String) throws(TraceError) -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw .cannotWrite(path)
        }
        return handle
    }

    private static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Trace output errors.
public enum TraceError: Error, CustomStringConvertible {
    case cannotWrite(String)

    public var description: String {
        switch self {
        case .cannotWrite(let path): "cannot write trace file \(path) (does its folder exist?)"
        }
    }
}
