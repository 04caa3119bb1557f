import EdgeInsightCore
import Foundation

/// The camera's JPEG and the device's pixel work, against resolution and quality.
///
/// - JPEG bytes per frame: bytes = pixels · exp(a + b·q + c·q²) — bits per pixel grow roughly
///   exponentially with the quality setting; the fit is linear in ln(bytes/pixel).
/// - Time of a pixel stage (the camera's encode; the device's decode → resize → normalize, or the
///   split's decode → resize → re-encode): t = c₀ + c₁·megapixels (+ c₂·quality): linear in the
///   pixels touched.
/// Each term is kept only when the measurements vary it (`ScalingFit`). Times are costs: every
/// coefficient ≥ 0 on features ≥ 0 (a negative intercept is a curve that fits, not a machine).
public struct CodecModel: Sendable, Codable, Equatable {
    public var bytesPerPixel: ScalingFit
    public var encode: ScalingFit
    /// Device-side pre-processing by placement (`edge`, `cloud-tensor`, `split`).
    public var preprocess: [String: ScalingFit]

    /// What a pixel fit reads of a frame.
    public struct Frame: Sendable {
        public var pixels: Double
        public var quality: Double

        public init(pixels: Double, quality: Double) {
            self.pixels = pixels
            self.quality = quality
        }

        func value(_ name: String) -> Double {
            switch name {
            case "megapixels": pixels / 1e6
            case "quality": quality
            case "quality2": quality * quality
            default: 1
            }
        }
    }

    static let bytesDesigns = [["1", "quality", "quality2"], ["1", "quality"], ["1"]]
    static let timeDesigns = [["1", "megapixels", "quality"], ["1", "megapixels"], ["megapixels"], ["1"]]

    public func jpegBytes(_ frame: Frame) -> Double { frame.pixels * exp(bytesPerPixel.predict(frame.value)) }
    public func encodeNs(_ frame: Frame) -> Double { max(0, encode.predict(frame.value)) }
    public func preprocessNs(_ frame: Frame, placement: Placement) -> Double? {
        preprocess[placement.rawValue].map { max(0, $0.predict(frame.value)) }
    }

    /// Fits from (frame, measurement) samples; `preprocess` is keyed by placement.
    public static func fit(bytes: [(Frame, Double)], encode: [(Frame, Double)], preprocess: [String: [(Frame, Double)]]) throws(ModelingError) -> CodecModel {
        guard !bytes.isEmpty else { throw .insufficientData("the codec model needs JPEG sizes: run any trial") }
        let bytesFit = try ScalingFit.fit(designs: bytesDesigns, samples: bytes.count, value: { bytes[$1].0.value($0) },
                                          y: bytes.map { log($0.1 / $0.0.pixels) }, what: "JPEG size", intervals: true)
        let encodeFit = try ScalingFit.fit(designs: timeDesigns, samples: encode.count, value: { encode[$1].0.value($0) }, y: encode.map(\.1),
                                           what: "camera encode time", nonNegative: true, intervals: true)
        var pre: [String: ScalingFit] = [:]
        for (placement, samples) in preprocess where !samples.isEmpty {
            pre[placement] = try ScalingFit.fit(designs: timeDesigns, samples: samples.count, value: { samples[$1].0.value($0) }, y: samples.map(\.1),
                                                what: "\(placement) pre-processing time", nonNegative: true, intervals: true)
        }
        return CodecModel(bytesPerPixel: bytesFit, encode: encodeFit, preprocess: pre)
    }
}
