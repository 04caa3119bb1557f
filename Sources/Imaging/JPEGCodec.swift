import CTurboJPEG

/// Chroma subsampling of an encoded JPEG.
public enum ChromaSubsampling: String, Sendable, Codable, CaseIterable {
    case s444 = "444", s420 = "420"

    var turbo: Int32 { self == .s444 ? Int32(TJSAMP_444.rawValue) : Int32(TJSAMP_420.rawValue) }
}

/// JPEG encoding with libjpeg-turbo. One encoder per thread: the handle is not thread-safe.
public final class JPEGEncoder {
    private let handle: tjhandle
    private var buffer: UnsafeMutablePointer<UInt8>?
    private var bufferSize = 0

    public init() throws(ImagingError) {
        guard let handle = tjInitCompress() else { throw .encodeFailed("cannot create a TurboJPEG compressor") }
        self.handle = handle
    }

    deinit {
        tjDestroy(handle)
        if let buffer { tjFree(buffer) }
    }

    /// Encodes RGB pixels at a quality (1–100) and chroma subsampling.
    public func encode(_ image: RGBImage, quality: Int, subsampling: ChromaSubsampling = .s420) throws(ImagingError) -> [UInt8] {
        guard (1...100).contains(quality) else { throw .encodeFailed("quality must be 1–100, got \(quality)") }
        // Reuse one worst-case buffer (tjBufSize) so encoding allocates nothing but the result.
        let needed = Int(tjBufSize(Int32(image.width), Int32(image.height), subsampling.turbo))
        if needed > bufferSize {
            if let buffer { tjFree(buffer) }
            buffer = tjAlloc(Int32(needed))
            bufferSize = buffer == nil ? 0 : needed
        }
        var output = buffer
        var size = UInt(bufferSize)
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &output, &size, subsampling.turbo, Int32(quality), TJFLAG_NOREALLOC)
        }
        guard status == 0, let output else { throw .encodeFailed(String(cString: tjGetErrorStr2(handle))) }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }
}

/// JPEG decoding with libjpeg-turbo, scaling in the DCT domain when the caller needs a much
/// smaller image (decoding at 1/2, 1/4 or 1/8 size skips most of the work). One per thread.
public final class JPEGDecoder {
    private let handle: tjhandle
    /// Scaling factors the library offers, largest reduction last after sorting.
    private let factors: [tjscalingfactor]

    public init() throws(ImagingError) {
        guard let handle = tjInitDecompress() else { throw .badJPEG("cannot create a TurboJPEG decompressor") }
        self.handle = handle
        var count: Int32 = 0
        let list = tjGetScalingFactors(&count)
        factors = (0..<Int(count)).compactMap { list?[$0] }.filter { $0.num <= $0.denom }
    }

    deinit { tjDestroy(handle) }

    /// Width and height of an encoded image.
    public func size(of jpeg: UnsafeRawBufferPointer) throws(ImagingError) -> (width: Int, height: Int) {
        guard !jpeg.isEmpty else { throw .badJPEG("empty data") }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let status = tjDecompressHeader3(handle, jpeg.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(jpeg.count),
                                         &width, &height, &subsampling, &colorspace)
        guard status == 0 else { throw .badJPEG(String(cString: tjGetErrorStr2(handle))) }
        return (Int(width), Int(height))
    }

    /// The decoded size when the result must be at least `minimum` in both dimensions: the
    /// smallest DCT-scaled size (1/8 … 1) that still covers it; full size when nothing smaller does.
    public func scaledSize(of size: (width: Int, height: Int), atLeast minimum: (width: Int, height: Int)?) -> (width: Int, height: Int) {
        guard let minimum else { return size }
        var best = size
        for factor in factors {
            let w = (size.width * Int(factor.num) + Int(factor.denom) - 1) / Int(factor.denom)
            let h = (size.height * Int(factor.num) + Int(factor.denom) - 1) / Int(factor.denom)
            if w >= minimum.width && h >= minimum.height && w * h < best.width * best.height { best = (w, h) }
        }
        return best
    }

    /// Decodes into `pixels` (grown as needed, reused across calls), scaled in the DCT domain to
    /// the smallest size of at least `minimum`. Returns the decoded size.
    public func decode(_ jpeg: UnsafeRawBufferPointer, atLeast minimum: (width: Int, height: Int)? = nil, into pixels: inout [UInt8]) throws(ImagingError) -> (width: Int, height: Int) {
        let full = try size(of: jpeg)
        let scaled = scaledSize(of: full, atLeast: minimum)
        let needed = scaled.width * scaled.height * 3
        if pixels.count < needed { pixels = [UInt8](repeating: 0, count: needed) }
        let status = pixels.withUnsafeMutableBufferPointer { out in
            tjDecompress2(handle, jpeg.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(jpeg.count), out.baseAddress,
                          Int32(scaled.width), 0, Int32(scaled.height), Int32(TJPF_RGB.rawValue), TJFLAG_STOPONWARNING)
        }
        // A warning (e.g. a truncated file) also fails: a half-decoded frame is not a frame.
        guard status == 0 else { throw .badJPEG(String(cString: tjGetErrorStr2(handle))) }
        return scaled
    }

    /// Decodes a whole image at full size.
    public func decode(_ jpeg: [UInt8]) throws(ImagingError) -> RGBImage {
        var pixels: [UInt8] = []
        let size = try jpeg.withUnsafeBytes { bytes in
            Result { () throws(ImagingError) in try decode(bytes, into: &pixels) }
        }.get()
        return RGBImage(width: size.width, height: size.height, pixels: Array(pixels.prefix(size.width * size.height * 3)))
    }
}
