import EdgeInsightCore
import Foundation

/// A camera that films a synthetic scene: a drifting colour gradient, fine stripes and a
/// checkerboard (texture), moving rectangles and discs (hard edges), and sensor noise — so that
/// JPEG sizes respond to quality and resolution the way photographs do. Frame `n` of seed `s` is
/// the same on every machine.
public struct SyntheticCamera: Sendable {
    public let width: Int
    public let height: Int
    public let seed: UInt64

    private struct Shape: Sendable {
        var disc: Bool
        var x, y, vx, vy, size: Double
        var color: (UInt8, UInt8, UInt8)
    }

    private let shapes: [Shape]
    private static let wave: [Int16] = (0..<256).map { Int16((sin(Double($0) / 256 * 2 * .pi) * 40).rounded()) }

    public init(width: Int, height: Int, seed: UInt64 = 1) throws(ImagingError) {
        guard (16...8192).contains(width), (16...8192).contains(height) else {
            throw .badSource("camera resolution must be between 16x16 and 8192x8192, got \(width)x\(height)")
        }
        self.width = width
        self.height = height
        self.seed = seed
        var random = SeededRandom(seed: seed)
        shapes = (0..<8).map { i in
            Shape(disc: i % 2 == 1,
                  x: random.nextUnitDouble() * Double(width), y: random.nextUnitDouble() * Double(height),
                  vx: (random.nextUnitDouble() - 0.5) * Double(width) / 40, vy: (random.nextUnitDouble() - 0.5) * Double(height) / 40,
                  size: (0.06 + random.nextUnitDouble() * 0.12) * Double(min(width, height)),
                  color: (UInt8(random.next() & 0xFF), UInt8(random.next() & 0xFF), UInt8(random.next() & 0xFF)))
        }
    }

    /// Renders frame `index` into `pixels` (resized to width × height × 3 if needed).
    public func render(frame index: Int, into pixels: inout [UInt8]) {
        let count = width * height * 3
        if pixels.count != count { pixels = [UInt8](repeating: 0, count: count) }
        let phase = index * 3
        pixels.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            Self.wave.withUnsafeBufferPointer { wave in
                var noise = UInt32(truncatingIfNeeded: seed &* 0x9E37_79B9 &+ UInt64(index) &* 0x85EB_CA6B) | 1
                for y in 0..<height {
                    let g = Int16(y * 255 / height)
                    let stripes = y > height / 3 && y < 2 * height / 3
                    for x in 0..<width {
                        var r = Int16((x * 255 / width + phase) & 0xFF)
                        var gg = g
                        var b = Int16(64 + (x + y) * 128 / (width + height))
                        if stripes && x > 2 * width / 3 {
                            let t = wave[(x * 9 + y * 5 + phase * 4) & 0xFF]
                            r += t; gg += t; b += t
                        } else if y > 2 * height / 3 && x < width / 3 {
                            let t: Int16 = ((x >> 3) + (y >> 3)) & 1 == 0 ? 45 : -45
                            r += t; gg += t; b += t
                        }
                        // xorshift32 sensor noise in ±3 (σ ≈ 2 levels, a well-lit sensor).
                        noise ^= noise << 13; noise ^= noise >> 17; noise ^= noise << 5
                        let n = Int16(noise % 7) - 3
                        let o = (y * width + x) * 3
                        p[o] = UInt8(clamping: r + n)
                        p[o + 1] = UInt8(clamping: gg + n)
                        p[o + 2] = UInt8(clamping: b + n)
                    }
                }
            }
            for shape in shapes { draw(shape, frame: index, into: p) }
        }
    }

    /// Renders frame `index` as a new image.
    public func frame(_ index: Int) -> RGBImage {
        var pixels: [UInt8] = []
        render(frame: index, into: &pixels)
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private func draw(_ shape: Shape, frame: Int, into p: UnsafeMutablePointer<UInt8>) {
        // Shapes bounce around the frame.
        func bounce(_ start: Double, _ velocity: Double, _ limit: Double) -> Double {
            let span = 2 * limit
            var v = (start + velocity * Double(frame)).truncatingRemainder(dividingBy: span)
            if v < 0 { v += span }
            return v > limit ? span - v : v
        }
        let cx = bounce(shape.x, shape.vx, Double(width)), cy = bounce(shape.y, shape.vy, Double(height))
        let half = shape.size / 2
        let x0 = max(0, Int(cx - half)), x1 = min(width - 1, Int(cx + half))
        let y0 = max(0, Int(cy - half)), y1 = min(height - 1, Int(cy + half))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                if shape.disc {
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    if dx * dx + dy * dy > half * half { continue }
                }
                let o = (y * width + x) * 3
                p[o] = shape.color.0
                p[o + 1] = shape.color.1
                p[o + 2] = shape.color.2
            }
        }
    }
}
