import EdgeInsightCore

/// Memory layout of the tensor a pipeline produces.
public enum TensorLayout: String, Sendable, Codable {
    case nchw, nhwc
}

/// One pre-processing operation.
public enum PipelineStep: Sendable, Equatable {
    /// JPEG → RGB, in the DCT domain at the smallest size the next resize allows.
    case decode
    /// Resize to exactly width × height.
    case resize(width: Int, height: Int, method: ResizeMethod)
    /// Resize so the shorter side is `size`, keeping the aspect ratio.
    case resizeShorter(size: Int, method: ResizeMethod)
    /// Keep the centred width × height rectangle.
    case centerCrop(width: Int, height: Int)
    /// Per-channel (v/255 − mean) / std; `name` is the preset it came from, if any.
    case normalize(mean: [Float], std: [Float], name: String?)
    /// Write the tensor: layout and element type (f32 or u8). Always the last step.
    case tensor(layout: TensorLayout, type: ElementType)
}

/// An ordered pre-processing pipeline, written as text in config and on the command line:
/// `decode → resize 256 shorter → center-crop 224 → normalize imagenet → nchw f32`.
public struct Pipeline: Sendable, Equatable, CustomStringConvertible {
    public var steps: [PipelineStep]

    /// Normalisation presets: ImageNet statistics (torchvision's), and plain 0…1 scaling.
    public static let normalizations: [String: (mean: [Float], std: [Float])] = [
        "imagenet": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        "unit": ([0, 0, 0], [1, 1, 1]),
        "symmetric": ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
    ]

    /// Named pipelines for 224×224 classifiers.
    public static let presets: [String: String] = [
        "imagenet": "decode → resize 256 shorter → center-crop 224 → normalize imagenet → nchw f32",
        "imagenet-fast": "decode → resize 224 → normalize imagenet → nchw f32",
    ]

    public init(steps: [PipelineStep]) throws(ImagingError) {
        self.steps = steps
        try validate()
    }

    /// Parses the text form (or a preset name); steps are separated by `→` or `->`.
    public init(parsing text: String) throws(ImagingError) {
        let source = Pipeline.presets[text.trimmingCharacters(in: .whitespaces)] ?? text
        let parts = source.replacingOccurrences(of: "->", with: "→").split(separator: "→").map { $0.trimmingCharacters(in: .whitespaces) }
        var steps: [PipelineStep] = []
        for part in parts {
            steps.append(try Pipeline.parseStep(part))
        }
        try self.init(steps: steps)
    }

    /// The standard pipeline feeding a model input of shape [N,3,H,W] (or [N,H,W,3]) from JPEG. An
    /// input whose height and width are dynamic takes each image at its own size (no resize).
    public static func standard(for input: TensorInfo) throws(ImagingError) -> Pipeline {
        let shape = input.shape
        guard shape.count == 4 else { throw .badPipeline("input '\(input.name)' has shape \(input.shapeDescription); an image input is [N,3,H,W] or [N,H,W,3]") }
        let nchw = shape[1] == 3
        guard nchw || shape[3] == 3 else { throw .badPipeline("input '\(input.name)' has shape \(input.shapeDescription) with no 3-channel axis") }
        let (h, w) = nchw ? (shape[2], shape[3]) : (shape[1], shape[2])
        let type: ElementType = input.elementType == .u8 ? .u8 : .f32
        var steps: [PipelineStep] = [.decode]
        if h > 0 && w > 0 { steps.append(.resize(width: w, height: h, method: .bilinear)) }
        if type == .f32 { steps.append(.normalize(mean: normalizations["imagenet"]!.mean, std: normalizations["imagenet"]!.std, name: "imagenet")) }
        steps.append(.tensor(layout: nchw ? .nchw : .nhwc, type: type))
        return try Pipeline(steps: steps)
    }

    /// Whether the pipeline starts from encoded JPEG bytes.
    public var decodes: Bool { steps.first == .decode }

    /// The tensor step's layout and type.
    public var output: (layout: TensorLayout, type: ElementType) {
        if case .tensor(let layout, let type) = steps.last! { return (layout, type) }
        preconditionFailure("validated pipelines end with a tensor step")
    }

    public var description: String {
        steps.map { step in
            switch step {
            case .decode: "decode"
            case .resize(let w, let h, let method): "resize \(Pipeline.size(w, h))\(method == .area ? " area" : "")"
            case .resizeShorter(let size, let method): "resize \(size) shorter\(method == .area ? " area" : "")"
            case .centerCrop(let w, let h): "center-crop \(Pipeline.size(w, h))"
            case .normalize(let mean, let std, let name):
                name.map { "normalize \($0)" } ?? "normalize mean=\(Pipeline.list(mean)) std=\(Pipeline.list(std))"
            case .tensor(let layout, let type): "\(layout.rawValue) \(type.rawValue)"
            }
        }.joined(separator: " → ")
    }

    // MARK: Parsing

    private static func parseStep(_ text: String) throws(ImagingError) -> PipelineStep {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let name = words.first?.lowercased() else { throw .badPipeline("empty step (two arrows in a row?)") }
        let arguments = Array(words.dropFirst())
        switch name {
        case "decode":
            guard arguments.isEmpty else { throw .badPipeline("'decode' takes no arguments, got '\(text)'") }
            return .decode
        case "resize":
            guard let sizeText = arguments.first, let size = parseSize(sizeText) else {
                throw .badPipeline("'\(text)': resize needs a size, e.g. 'resize 224', 'resize 320x240' or 'resize 256 shorter'")
            }
            var method = ResizeMethod.bilinear
            var shorter = false
            for word in arguments.dropFirst() {
                if word == "shorter" { shorter = true } else if let m = ResizeMethod(rawValue: word) { method = m } else {
                    throw .badPipeline("'\(text)': unknown resize option '\(word)' (use shorter, bilinear or area)")
                }
            }
            if shorter {
                guard size.0 == size.1 else { throw .badPipeline("'\(text)': 'shorter' takes one size, e.g. 'resize 256 shorter'") }
                return .resizeShorter(size: size.0, method: method)
            }
            return .resize(width: size.0, height: size.1, method: method)
        case "center-crop", "centercrop", "crop":
            guard arguments.count == 1, let size = parseSize(arguments[0]) else {
                throw .badPipeline("'\(text)': center-crop needs a size, e.g. 'center-crop 224'")
            }
            return .centerCrop(width: size.0, height: size.1)
        case "normalize":
            if arguments.count == 1, let preset = normalizations[arguments[0].lowercased()] {
                return .normalize(mean: preset.mean, std: preset.std, name: arguments[0].lowercased())
            }
            var mean: [Float]?, std: [Float]?
            for word in arguments {
                if word.hasPrefix("mean=") { mean = parseFloats(word.dropFirst(5)) } else if word.hasPrefix("std=") { std = parseFloats(word.dropFirst(4)) } else {
                    throw .badPipeline("'\(text)': use 'normalize imagenet', 'normalize unit', 'normalize symmetric' or 'normalize mean=a,b,c std=d,e,f'")
                }
            }
            guard let mean, let std, mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
                throw .badPipeline("'\(text)': normalize needs three means and three positive standard deviations")
            }
            return .normalize(mean: mean, std: std, name: nil)
        case "nchw", "nhwc":
            let type = arguments.first.flatMap { ElementType(rawValue: $0.lowercased()) } ?? (arguments.isEmpty ? .f32 : nil)
            guard arguments.count <= 1, let type, type == .f32 || type == .u8 else {
                throw .badPipeline("'\(text)': the tensor step is 'nchw f32', 'nchw u8', 'nhwc f32' or 'nhwc u8'")
            }
            return .tensor(layout: TensorLayout(rawValue: name)!, type: type)
        default:
            throw .badPipeline("unknown step '\(name)' in '\(text)' (steps: decode, resize, center-crop, normalize, nchw/nhwc)")
        }
    }

    private func validate() throws(ImagingError) {
        guard let last = steps.last, case .tensor(_, let type) = last else {
            throw .badPipeline("the last step must say the tensor layout, e.g. 'nchw f32'")
        }
        for (i, step) in steps.enumerated() {
            switch step {
            case .decode where i != 0: throw .badPipeline("'decode' must be the first step")
            case .tensor where i != steps.count - 1: throw .badPipeline("the tensor step must be the last")
            case .normalize where type == .u8: throw .badPipeline("normalized values do not fit u8; write 'nchw f32' or drop 'normalize'")
            case .resize(let w, let h, _) where w < 1 || h < 1 || w > 16384 || h > 16384,
                 .centerCrop(let w, let h) where w < 1 || h < 1 || w > 16384 || h > 16384:
                throw .badPipeline("sizes must be between 1 and 16384 pixels")
            case .resizeShorter(let size, _) where size < 1 || size > 16384:
                throw .badPipeline("sizes must be between 1 and 16384 pixels")
            default: break
            }
        }
        if steps.filter({ if case .normalize = $0 { true } else { false } }).count > 1 {
            throw .badPipeline("normalize at most once")
        }
    }

    private static func parseSize(_ text: String) -> (Int, Int)? {
        PixelSize(parsing: text, squareAllowed: true).map { ($0.width, $0.height) }
    }

    private static func parseFloats(_ text: Substring) -> [Float]? {
        let values = text.split(separator: ",").map { Float($0) }
        return values.contains(nil) ? nil : values.map { $0! }
    }

    private static func size(_ w: Int, _ h: Int) -> String { w == h ? "\(w)" : "\(w)x\(h)" }

    private static func list(_ values: [Float]) -> String { values.map { "\($0)" }.joined(separator: ",") }
}
