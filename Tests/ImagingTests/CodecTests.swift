import EdgeInsightCore
@testable import Imaging
import Testing

@Suite struct JPEGCodecTests {
    let camera = try! SyntheticCamera(width: 640, height: 480, seed: 3)

    @Test func sizeFallsAsQualityFalls() throws {
        let encoder = try JPEGEncoder()
        let frame = camera.frame(5)
        let sizes = try [95, 80, 60, 40, 20, 5].map { try encoder.encode(frame, quality: $0).count }
        for (higher, lower) in zip(sizes, sizes.dropFirst()) { #expect(higher > lower, "sizes by falling quality: \(sizes)") }
        // Photograph-like content: tens of kB at q80 for 640×480, not a few hundred bytes.
        #expect(sizes[1] > 20_000 && sizes[1] < 200_000, "q80 size \(sizes[1])")
        // 4:4:4 keeps full-resolution chroma, so it costs more bytes than 4:2:0.
        #expect(try encoder.encode(frame, quality: 80, subsampling: .s444).count > sizes[1])
    }

    @Test(arguments: ChromaSubsampling.allCases)
    func roundTripAtQuality90KeepsPSNRAbove35dB(subsampling: ChromaSubsampling) throws {
        let frame = camera.frame(2)
        let decoded = try JPEGDecoder().decode(try JPEGEncoder().encode(frame, quality: 90, subsampling: subsampling))
        #expect(decoded.width == 640 && decoded.height == 480)
        let psnr = decoded.psnr(against: frame)
        #expect(psnr >= 35, "PSNR \(psnr) dB")
        // And a low quality is visibly worse: the measure is not blind.
        let poor = try JPEGDecoder().decode(try JPEGEncoder().encode(frame, quality: 10, subsampling: subsampling))
        #expect(poor.psnr(against: frame) < psnr - 5)
    }

    @Test func decoderScalesInTheDCTDomainToTheSmallestSufficientSize() throws {
        let decoder = try JPEGDecoder()
        #expect(decoder.scaledSize(of: (640, 480), atLeast: (224, 224)) == (320, 240))
        #expect(decoder.scaledSize(of: (640, 480), atLeast: (100, 100)) == (160, 120))
        #expect(decoder.scaledSize(of: (640, 480), atLeast: (50, 50)) == (80, 60))
        #expect(decoder.scaledSize(of: (640, 480), atLeast: (700, 500)) == (640, 480))
        #expect(decoder.scaledSize(of: (640, 480), atLeast: nil) == (640, 480))
        let jpeg = try JPEGEncoder().encode(camera.frame(0), quality: 85)
        var pixels: [UInt8] = []
        let size = try jpeg.withUnsafeBytes { bytes in Result { () throws(ImagingError) in try decoder.decode(bytes, atLeast: (224, 224), into: &pixels) } }.get()
        #expect(size == (320, 240))
    }

    @Test func corruptDataIsAnErrorNotACrash() throws {
        let decoder = try JPEGDecoder()
        let jpeg = try JPEGEncoder().encode(camera.frame(0), quality: 85)
        for bad in [[UInt8](), [0xFF, 0xD8, 0xFF], Array(jpeg.prefix(jpeg.count / 2)), [UInt8](repeating: 7, count: 5000)] {
            #expect(throws: ImagingError.self) { try decoder.decode(bad) }
        }
    }

    @Test func cameraIsDeterministicAndMoves() throws {
        let again = try SyntheticCamera(width: 640, height: 480, seed: 3)
        #expect(camera.frame(7) == again.frame(7))
        #expect(camera.frame(7) != camera.frame(8))
        #expect(camera.frame(7) != (try SyntheticCamera(width: 640, height: 480, seed: 4)).frame(7))
        #expect(throws: ImagingError.self) { try SyntheticCamera(width: 4, height: 4) }
    }
}

@Suite struct TransformTests {
    /// Builds an image whose three channels all hold `values` (row-major).
    func gray(_ width: Int, _ height: Int, _ values: [UInt8]) -> RGBImage {
        RGBImage(width: width, height: height, pixels: values.flatMap { [$0, $0, $0] })
    }

    /// Runs a pipeline that ends in `nhwc u8` and returns the first channel.
    func run(_ text: String, _ image: RGBImage, outputPixels: Int) throws -> [UInt8] {
        let preprocessor = try Preprocessor(pipeline: try Pipeline(parsing: text))
        var out = [UInt8](repeating: 0, count: outputPixels * 3)
        _ = try out.withUnsafeMutableBytes { buffer in Result { () throws(ImagingError) in try preprocessor.run(image: image, into: buffer) } }.get()
        return stride(from: 0, to: out.count, by: 3).map { out[$0] }
    }

    @Test func bilinearMatchesHandComputedValues() throws {
        // Pixel centres at +0.5: output x = 0,1,2,3 samples source x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        #expect(try run("resize 4x1 → nhwc u8", gray(2, 1, [0, 100]), outputPixels: 4) == [0, 25, 75, 100])
        #expect(try run("resize 1x4 → nhwc u8", gray(1, 2, [0, 200]), outputPixels: 4) == [0, 50, 150, 200])
        // Halving with bilinear samples between pairs: (0+40)/2, (80+120)/2.
        #expect(try run("resize 2x1 → nhwc u8", gray(4, 1, [0, 40, 80, 120]), outputPixels: 2) == [20, 100])
    }

    @Test func areaAveragesFootprints() throws {
        // value = 10x + 40y on 4×4; each output pixel averages a 2×2 block.
        let values = (0..<4).flatMap { y in (0..<4).map { x in UInt8(10 * x + 40 * y) } }
        #expect(try run("resize 2 area → nhwc u8", gray(4, 4, values), outputPixels: 4) == [25, 45, 105, 125])
        // 3 → 2: footprints of 1.5 pixels: (0 + 0.5·90)/1.5 = 30, (0.5·90 + 180)/1.5 = 150.
        #expect(try run("resize 2x1 area → nhwc u8", gray(3, 1, [0, 90, 180]), outputPixels: 2) == [30, 150])
    }

    @Test func centerCropKeepsTheMiddle() throws {
        let values = (0..<16).map { UInt8($0) }
        #expect(try run("center-crop 2 → nhwc u8", gray(4, 4, values), outputPixels: 4) == [5, 6, 9, 10])
        #expect(throws: ImagingError.self) { try run("center-crop 8 → nhwc u8", gray(4, 4, values), outputPixels: 64) }
    }

    @Test func resizeShorterKeepsAspect() throws {
        let preprocessor = try Preprocessor(pipeline: try Pipeline(parsing: "resize 2 shorter → nhwc u8"))
        var out = [UInt8](repeating: 0, count: 4 * 2 * 3)
        let shape = try out.withUnsafeMutableBytes { buffer in
            Result { () throws(ImagingError) in try preprocessor.run(image: gray(8, 4, [UInt8](repeating: 9, count: 32)), into: buffer) }
        }.get()
        #expect(shape == [1, 2, 4, 3])
    }

    @Test func normalizeAndLayoutMatchHandComputedValues() throws {
        let image = RGBImage(width: 2, height: 1, pixels: [255, 0, 128, 10, 20, 30])
        let preprocessor = try Preprocessor(pipeline: try Pipeline(parsing: "normalize imagenet → nchw f32"))
        var out = [Float](repeating: 0, count: 6)
        let shape = try out.withUnsafeMutableBytes { buffer in
            Result { () throws(ImagingError) in try preprocessor.run(image: image, into: buffer) }
        }.get()
        #expect(shape == [1, 3, 1, 2])
        let expected: [Float] = [
            (1 - 0.485) / 0.229, (10 / 255 - 0.485) / 0.229,
            (0 - 0.456) / 0.224, (20 / 255 - 0.456) / 0.224,
            (128 / 255 - 0.406) / 0.225, (30 / 255 - 0.406) / 0.225,
        ]
        for (got, want) in zip(out, expected) { #expect(abs(got - want) < 1e-5) }

        // Without normalize, f32 holds the raw 0–255 values; NHWC keeps pixels together.
        let raw = try Preprocessor(pipeline: try Pipeline(parsing: "nhwc f32"))
        _ = try out.withUnsafeMutableBytes { buffer in Result { () throws(ImagingError) in try raw.run(image: image, into: buffer) } }.get()
        #expect(out == [255, 0, 128, 10, 20, 30])
        let planar = try Preprocessor(pipeline: try Pipeline(parsing: "nchw u8"))
        var bytes = [UInt8](repeating: 0, count: 6)
        _ = try bytes.withUnsafeMutableBytes { buffer in Result { () throws(ImagingError) in try planar.run(image: image, into: buffer) } }.get()
        #expect(bytes == [255, 10, 0, 20, 128, 30])
    }

    @Test func wrongOutputSizeIsRejected() throws {
        let preprocessor = try Preprocessor(pipeline: try Pipeline(parsing: "resize 4 → nchw f32"))
        var out = [Float](repeating: 0, count: 10)
        #expect(throws: ImagingError.self) {
            try out.withUnsafeMutableBytes { buffer in Result { () throws(ImagingError) in try preprocessor.run(image: gray(8, 8, [UInt8](repeating: 1, count: 64)), into: buffer) } }.get()
        }
    }
}

@Suite struct PipelineTextTests {
    @Test(arguments: [
        "decode → resize 224 → normalize imagenet → nchw f32",
        "decode → resize 256 shorter → center-crop 224 → normalize imagenet → nchw f32",
        "decode → resize 320x240 area → center-crop 200x180 → nhwc u8",
        "decode → resize 224 → normalize mean=0.5,0.4,0.3 std=0.2,0.25,0.3 → nhwc f32",
        "resize 160 → normalize unit → nchw f32",
    ])
    func roundTrips(text: String) throws {
        let pipeline = try Pipeline(parsing: text)
        #expect(pipeline.description == text)
        #expect(try Pipeline(parsing: pipeline.description) == pipeline)
    }

    @Test func acceptsAsciiArrowsAndPresets() throws {
        let ascii = try Pipeline(parsing: "decode -> resize 224 -> normalize imagenet -> nchw f32")
        #expect(ascii.description == "decode → resize 224 → normalize imagenet → nchw f32")
        #expect(try Pipeline(parsing: "imagenet-fast") == ascii)
        #expect(try Pipeline(parsing: "imagenet").steps.count == 5)
    }

    @Test func standardPipelineFitsTheModelInput() throws {
        let nchw = try Pipeline.standard(for: TensorInfo(name: "input", elementType: .f32, shape: [1, 3, 160, 192]))
        #expect(nchw.description == "decode → resize 192x160 → normalize imagenet → nchw f32")
        let nhwc = try Pipeline.standard(for: TensorInfo(name: "x", elementType: .u8, shape: [1, 224, 224, 3]))
        #expect(nhwc.description == "decode → resize 224 → nhwc u8")
        #expect(throws: ImagingError.self) { try Pipeline.standard(for: TensorInfo(name: "v", elementType: .f32, shape: [1, 16])) }
    }

    @Test(arguments: [
        ("decode → blur 3 → nchw f32", "unknown step 'blur'"),
        ("resize 224 → decode → nchw f32", "'decode' must be the first step"),
        ("decode → resize 224", "the last step must say the tensor layout"),
        ("decode → normalize imagenet → nchw u8", "do not fit u8"),
        ("decode → resize → nchw f32", "resize needs a size"),
        ("decode → resize 0 → nchw f32", "between 1 and 16384"),
        ("decode → normalize mean=1,2 std=1,1,1 → nchw f32", "three means"),
        ("decode →  → nchw f32", "empty step"),
        ("decode → nchw f64", "'nchw f32'"),
    ])
    func badTextGetsAClearMessage(text: String, mentions: String) {
        do {
            _ = try Pipeline(parsing: text)
            Issue.record("'\(text)' should be rejected")
        } catch {
            #expect("\(error)".contains(mentions), "\(error)")
            #expect(!"\(error)".contains("\n"))
        }
    }
}
