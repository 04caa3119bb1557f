/// An 8-bit RGB image, pixels interleaved row by row (HWC).
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "pixel count must be width × height × 3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    /// Peak signal-to-noise ratio against another image of the same size, in dB (∞ when equal).
    public func psnr(against other: RGBImage) -> Double {
        precondition(width == other.width && height == other.height, "images must be the same size")
        var squared = 0.0
        for i in pixels.indices {
            let d = Double(pixels[i]) - Double(other.pixels[i])
            squared += d * d
        }
        let mse = squared / Double(pixels.count)
        return mse == 0 ? .infinity : 10 * (255.0 * 255.0 / mse).log10
    }
}

extension Double {
    fileprivate var log10: Double { Foundation.log10(self) }
}

import Foundation
