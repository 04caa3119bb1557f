/// How to resample when resizing.
public enum ResizeMethod: String, Sendable, Codable, CaseIterable {
    /// Bilinear with pixel centres at +0.5 (OpenCV's INTER_LINEAR convention).
    case bilinear
    /// Box average over each output pixel's footprint (OpenCV's INTER_AREA); for shrinking.
    case area
}

/// A rectangle of an interleaved RGB buffer: the current image of a pipeline.
struct ImageView {
    var width: Int
    var height: Int
    /// Pixels per row of the underlying buffer (the uncropped width).
    var stride: Int
    /// Offset of the first pixel, in pixels.
    var origin: Int
}

/// Per-axis resampling tables, computed once per size pair and reused for every frame.
struct ResampleTables: Equatable {
    struct Key: Equatable { var source: Int, destination: Int, method: ResizeMethod }

    /// For each destination index: first source index, count of taps, and where its weights start.
    var first: [Int32] = []
    var count: [Int32] = []
    var weightStart: [Int32] = []
    var weights: [Float] = []
    var key: Key?

    mutating func prepare(source: Int, destination: Int, method: ResizeMethod) {
        let key = Key(source: source, destination: destination, method: method)
        if self.key == key { return }
        self.key = key
        first.removeAll(keepingCapacity: true)
        count.removeAll(keepingCapacity: true)
        weightStart.removeAll(keepingCapacity: true)
        weights.removeAll(keepingCapacity: true)
        let scale = Double(source) / Double(destination)
        for d in 0..<destination {
            weightStart.append(Int32(weights.count))
            if method == .area && scale > 1 {
                // Footprint [d·scale, (d+1)·scale) with fractional coverage at both ends.
                let begin = Double(d) * scale, end = min(Double(source), begin + scale)
                var s = Int(begin)
                first.append(Int32(s))
                var taps: Int32 = 0
                while Double(s) < end {
                    let covered = min(end, Double(s + 1)) - max(begin, Double(s))
                    weights.append(Float(covered / scale))
                    taps += 1
                    s += 1
                }
                count.append(taps)
            } else {
                let position = max(0, (Double(d) + 0.5) * scale - 0.5)
                let s0 = min(Int(position), source - 1)
                let s1 = min(s0 + 1, source - 1)
                let w = Float(position - Double(s0))
                first.append(Int32(s0))
                if s1 == s0 || w == 0 {
                    count.append(1)
                    weights.append(1)
                } else {
                    count.append(2)
                    weights.append(1 - w)
                    weights.append(w)
                }
            }
        }
    }
}

/// Separable resize of RGB u8 images through a float row buffer: horizontal pass per source row
/// needed, then vertical blend. Buffers are kept between calls, so steady state allocates nothing.
struct Resizer {
    private var horizontal = ResampleTables()
    private var vertical = ResampleTables()
    /// Horizontally resampled source rows, as floats (height × dstWidth × 3).
    private var rows: [Float] = []

    mutating func resize(_ source: UnsafePointer<UInt8>, _ view: ImageView, into destination: UnsafeMutablePointer<UInt8>, width: Int, height: Int, method: ResizeMethod) {
        horizontal.prepare(source: view.width, destination: width, method: method)
        vertical.prepare(source: view.height, destination: height, method: method)
        let rowLength = width * 3
        if rows.count < view.height * rowLength { rows = [Float](repeating: 0, count: view.height * rowLength) }
        rows.withUnsafeMutableBufferPointer { rowBuffer in
            let rowsBase = rowBuffer.baseAddress!
            // Horizontal pass over every source row (each is used by at least one output row when shrinking).
            horizontal.weights.withUnsafeBufferPointer { hw in
            horizontal.first.withUnsafeBufferPointer { hf in
            horizontal.count.withUnsafeBufferPointer { hc in
            horizontal.weightStart.withUnsafeBufferPointer { hs in
                for y in 0..<view.height {
                    let src = source + (view.origin + y * view.stride) * 3
                    let out = rowsBase + y * rowLength
                    for x in 0..<width {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        var p = src + Int(hf[x]) * 3
                        var w = Int(hs[x])
                        for _ in 0..<Int(hc[x]) {
                            let weight = hw[w]
                            r += Float(p[0]) * weight
                            g += Float(p[1]) * weight
                            b += Float(p[2]) * weight
                            p += 3
                            w += 1
                        }
                        out[x * 3] = r
                        out[x * 3 + 1] = g
                        out[x * 3 + 2] = b
                    }
                }
            }}}}
            // Vertical pass: blend the needed rows into each output row.
            vertical.weights.withUnsafeBufferPointer { vw in
            vertical.first.withUnsafeBufferPointer { vf in
            vertical.count.withUnsafeBufferPointer { vc in
            vertical.weightStart.withUnsafeBufferPointer { vs in
                for y in 0..<height {
                    let out = destination + y * rowLength
                    let firstRow = Int(vf[y]), taps = Int(vc[y]), start = Int(vs[y])
                    for i in 0..<rowLength {
                        var sum: Float = 0
                        for t in 0..<taps { sum += rowsBase[(firstRow + t) * rowLength + i] * vw[start + t] }
                        out[i] = UInt8(min(255, max(0, sum + 0.5)))
                    }
                }
            }}}}
        }
    }
}
