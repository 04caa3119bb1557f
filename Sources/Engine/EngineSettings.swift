import EdgeInsightCore

/// OpenVINO's performance hints: what the device should optimise for.
public enum PerformanceHint: String, Sendable, Codable, CaseIterable {
    case latency = "LATENCY"
    case throughput = "THROUGHPUT"
    case cumulativeThroughput = "CUMULATIVE_THROUGHPUT"
}

/// Precision the device computes in.
public enum InferencePrecision: String, Sendable, Codable, CaseIterable {
    case f32, bf16, f16
}

/// How a model is to be compiled and run. Nil means "the device's default", which is then read back.
public struct EngineSettings: Sendable, Codable, Equatable {
    /// OpenVINO device name.
    public var device = "CPU"
    /// Performance hint; nil leaves the device default.
    public var hint: PerformanceHint?
    /// Number of execution streams; nil leaves it to the hint.
    public var streams: Int?
    /// Maximum threads for inference; nil leaves it to the device.
    public var threads: Int?
    /// Inference precision; nil lets OpenVINO choose (bf16 on AVX-512-bf16 CPUs).
    public var precision: InferencePrecision?
    /// Infer requests to keep in flight; nil uses the compiled model's optimal number.
    public var requests: Int?
    /// Batch size, applied to the first dimension of every input.
    public var batch = 1
    /// Element type the caller provides inputs in (f32 or u8); nil keeps the model's own.
    public var inputElementType: ElementType?
    /// Shapes for inputs by name, fixing dynamic dimensions (`--shape name:1,3,224,224`); -1 marks
    /// a dimension left dynamic when `keepsDynamicDimensions` is set.
    public var shapes: [String: [Int]] = [:]
    /// Compile dynamic dimensions as they are (each request then sets its input shapes) instead of
    /// refusing them. When any dimension past the batch stays dynamic, the batch does too, so that
    /// one compiled model serves every shape.
    public var keepsDynamicDimensions = false

    public init() {}

    /// Parses `name:1,3,224,224` (or `1,3,224,224` for a model with one input) into an entry of
    /// `shapes`; with `dynamic`, -1 marks a dimension each request gives.
    public static func parseShape(_ text: String, dynamic: Bool = false) throws(EngineError) -> (name: String?, dims: [Int]) {
        var name: String?
        var dimsText = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            name = String(text[..<colon])
            dimsText = text[text.index(after: colon)...]
            if name!.isEmpty { throw .badShape("'\(text)' has an empty input name") }
        }
        let parts = dimsText.split(separator: ",", omittingEmptySubsequences: false)
        var dims: [Int] = []
        for part in parts {
            guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value > 0 || (dynamic && value == -1) else {
                throw .badShape("'\(text)': dimensions must be positive integers\(dynamic ? " or -1" : "") separated by commas, e.g. input:1,3,224,224")
            }
            dims.append(value)
        }
        return (name, dims)
    }
}

/// The settings that actually applied, read back from the compiled model.
public struct AppliedSettings: Sendable, Codable, Equatable {
    public var device: String
    public var hint: String
    public var streams: Int
    public var threads: Int
    /// The precision that ran: every result must state it (bf16 is picked silently on some CPUs).
    public var precision: String
    public var optimalRequests: Int
    public var batch: Int

    public init(device: String, hint: String, streams: Int, threads: Int, precision: String, optimalRequests: Int, batch: Int) {
        self.device = device
        self.hint = hint
        self.streams = streams
        self.threads = threads
        self.precision = precision
        self.optimalRequests = optimalRequests
        self.batch = batch
    }
}
