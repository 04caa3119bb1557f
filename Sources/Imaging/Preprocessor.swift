import EdgeInsightCore

/// Runs a pipeline on one frame after another, reusing its decoder, resampling tables and
/// buffers: after the first frame of a given size, a frame allocates nothing.
/// Not thread-safe; one per thread.
public final class Preprocessor {
    public let pipeline: Pipeline
    private let decoder: JPEGDecoder
    private var resizer = Resizer()
    private var front: [UInt8] = []
    private var back: [UInt8] = []
    /// value → normalized value, per channel (3 × 256 floats): one lookup per element.
    private var lookup: [Float]

    public init(pipeline: Pipeline) throws(ImagingError) {
        self.pipeline = pipeline
        decoder = try JPEGDecoder()
        lookup = [Float](repeating: 0, count: 3 * 256)
        // Without a normalize step f32 tensors hold the raw 0–255 values.
        var mean: [Float] = [0, 0, 0], std: [Float] = [1.0 / 255, 1.0 / 255, 1.0 / 255]
        for case .normalize(let m, let s, _) in pipeline.steps {
            mean = m
            std = s
        }
        for c in 0..<3 {
            // (v/255 − mean)/std, written so that mean 0, std 1/255 gives v exactly.
            for v in 0..<256 { lookup[c * 256 + v] = (Float(v) - mean[c] * 255) / (std[c] * 255) }
        }
    }

    /// Decodes a JPEG and runs the rest of the pipeline, writing the tensor into `output`
    /// (which must be exactly the tensor's size). Returns the tensor's shape.
    @discardableResult
    public func run(jpeg: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ImagingError) -> [Int] {
        guard pipeline.decodes else { throw .badPipeline("this pipeline does not start with 'decode', so it takes images, not JPEG bytes") }
        let size = try decoder.decode(jpeg, atLeast: decodeMinimum(), into: &front)
        return try process(ImageView(width: size.width, height: size.height, stride: size.width, origin: 0), from: 1, into: output)
    }

    /// Runs the pipeline (without its decode step) on an RGB image.
    @discardableResult
    public func run(image: RGBImage, into output: UnsafeMutableRawBufferPointer) throws(ImagingError) -> [Int] {
        if front.count < image.pixels.count { front = [UInt8](repeating: 0, count: image.pixels.count) }
        front.withUnsafeMutableBufferPointer { buffer in
            image.pixels.withUnsafeBufferPointer { buffer.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        }
        return try process(ImageView(width: image.width, height: image.height, stride: image.width, origin: 0), from: pipeline.decodes ? 1 : 0, into: output)
    }

    /// The shape of the tensor this pipeline makes from a JPEG, without running it.
    public func tensorShape(jpeg: UnsafeRawBufferPointer) throws(ImagingError) -> [Int] {
        var size = try decoder.size(of: jpeg)
        if pipeline.decodes { size = decoder.scaledSize(of: size, atLeast: decodeMinimum()) }
        for step in pipeline.steps {
            switch step {
            case .resize(let w, let h, _): size = (w, h)
            case .resizeShorter(let target, _): size = Self.shorterSideSize(size, target)
            case .centerCrop(let w, let h):
                guard w <= size.width, h <= size.height else { throw .sizeMismatch("image \(size.width)x\(size.height) is smaller than the crop \(w)x\(h)") }
                size = (w, h)
            case .tensor(let layout, _): return layout == .nchw ? [1, 3, size.height, size.width] : [1, size.height, size.width, 3]
            case .decode, .normalize: break
            }
        }
        preconditionFailure("validated pipelines end with a tensor step")
    }

    /// The size with the shorter side scaled to `target`, aspect kept.
    static func shorterSideSize(_ size: (width: Int, height: Int), _ target: Int) -> (width: Int, height: Int) {
        size.width <= size.height
            ? (target, max(1, Int((Double(size.height) * Double(target) / Double(size.width)).rounded())))
            : (max(1, Int((Double(size.width) * Double(target) / Double(size.height)).rounded())), target)
    }

    /// The smallest decoded size the step after `decode` can use without upscaling.
    private func decodeMinimum() -> (width: Int, height: Int)? {
        guard pipeline.steps.count > 1 else { return nil }
        switch pipeline.steps[1] {
        case .resize(let w, let h, _): return (w, h)
        case .resizeShorter(let size, _): return (size, size)
        default: return nil
        }
    }

    private func process(_ start: ImageView, from first: Int, into output: UnsafeMutableRawBufferPointer) throws(ImagingError) -> [Int] {
        var view = start
        for step in pipeline.steps[first...] {
            switch step {
            case .decode, .normalize:
                break
            case .resize(let w, let h, let method):
                resize(&view, to: (w, h), method: method)
            case .resizeShorter(let size, let method):
                let target = Self.shorterSideSize((view.width, view.height), size)
                resize(&view, to: (target.width, target.height), method: method)
            case .centerCrop(let w, let h):
                guard w <= view.width, h <= view.height else {
                    throw .sizeMismatch("image \(view.width)x\(view.height) is smaller than the crop \(w)x\(h)")
                }
                view.origin += ((view.height - h) / 2) * view.stride + (view.width - w) / 2
                view.width = w
                view.height = h
            case .tensor(let layout, let type):
                return try writeTensor(view, layout: layout, type: type, into: output)
            }
        }
        preconditionFailure("validated pipelines end with a tensor step")
    }

    private func resize(_ view: inout ImageView, to size: (Int, Int), method: ResizeMethod) {
        if (size.0, size.1) == (view.width, view.height) { return }
        let needed = size.0 * size.1 * 3
        if back.count < needed { back = [UInt8](repeating: 0, count: needed) }
        front.withUnsafeBufferPointer { source in
            back.withUnsafeMutableBufferPointer { destination in
                resizer.resize(source.baseAddress!, view, into: destination.baseAddress!, width: size.0, height: size.1, method: method)
            }
        }
        swap(&front, &back)
        view = ImageView(width: size.0, height: size.1, stride: size.0, origin: 0)
    }

    private func writeTensor(_ view: ImageView, layout: TensorLayout, type: ElementType, into output: UnsafeMutableRawBufferPointer) throws(ImagingError) -> [Int] {
        let (w, h) = (view.width, view.height)
        let shape = layout == .nchw ? [1, 3, h, w] : [1, h, w, 3]
        let expected = w * h * 3 * type.byteSize
        guard output.count == expected else {
            throw .sizeMismatch("the pipeline makes a \(type.rawValue) tensor \(TensorInfo.describe(shape)) (\(expected) bytes) but the input holds \(output.count) bytes")
        }
        let plane = w * h
        front.withUnsafeBufferPointer { pixels in
            lookup.withUnsafeBufferPointer { table in
                let red = table.baseAddress!, green = red + 256, blue = red + 512
                for y in 0..<h {
                    let row = pixels.baseAddress! + (view.origin + y * view.stride) * 3
                    switch (layout, type) {
                    case (.nchw, .f32):
                        let out = output.baseAddress!.assumingMemoryBound(to: Float.self) + y * w
                        for x in 0..<w {
                            out[x] = red[Int(row[x * 3])]
                            out[plane + x] = green[Int(row[x * 3 + 1])]
                            out[2 * plane + x] = blue[Int(row[x * 3 + 2])]
                        }
                    case (.nhwc, .f32):
                        let out = output.baseAddress!.assumingMemoryBound(to: Float.self) + y * w * 3
                        for x in 0..<w {
                            out[x * 3] = red[Int(row[x * 3])]
                            out[x * 3 + 1] = green[Int(row[x * 3 + 1])]
                            out[x * 3 + 2] = blue[Int(row[x * 3 + 2])]
                        }
                    case (.nchw, _):
                        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self) + y * w
                        for x in 0..<w {
                            out[x] = row[x * 3]
                            out[plane + x] = row[x * 3 + 1]
                            out[2 * plane + x] = row[x * 3 + 2]
                        }
                    case (.nhwc, _):
                        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self) + y * w * 3
                        out.update(from: row, count: w * 3)
                    }
                }
            }
        }
        return shape
    }
}
