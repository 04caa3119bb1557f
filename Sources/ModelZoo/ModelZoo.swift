import EdgeInsightCore
import Foundation
import SwiftProtobuf

/// Errors of the model zoo and the analyzer.
public enum ZooError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String, known: [String])
    case badParameter(String)
    case unreadableFile(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case dynamicShape(input: String, declared: String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let known):
            "unknown zoo model '\(name)'; known models: \(known.joined(separator: ", ")) (or give a model file path)"
        case .badParameter(let message):
            message
        case .unreadableFile(let path, let reason):
            "cannot read ONNX file \(path): \(reason)"
        case .writeFailed(let path, let reason):
            "cannot write \(path): \(reason)"
        case .dynamicShape(let input, let declared):
            "input '\(input)' has dynamic dimensions \(declared) beyond the batch: fix its shape to analyze it"
        }
    }
}

/// What the literature reports for a trained architecture at 224×224, with where it says so.
public struct PublishedFigures: Sendable, Codable, Equatable {
    /// Multiply–accumulates per image (conv + fully connected).
    public var macs: Double
    public var parameters: Double
    /// ImageNet top-1 accuracy, percent.
    public var top1: Double
    public var source: String
}

/// One model the zoo can build.
public struct ZooModel: Sendable {
    public let name: String
    public let summary: String
    /// Published figures; nil for micro-models.
    public let published: PublishedFigures?
    /// Whether the model takes images (and so a resolution).
    public let isImageClassifier: Bool
    /// The architecture family (`mobilenet_v2` for every width, `resnet` for ResNet-18 and -50):
    /// models built from the same kind of blocks.
    public let family: String
    let width: Double
    let build: @Sendable (inout GraphBuilder, Int, Double) -> Onnx_ModelProto
}

/// The built-in models: standard edge and cloud image classifiers plus protocol micro-models.
public enum ModelZoo {
    /// The default model of commands that take one.
    public static let defaultModel = "mobilenet_v2"

    /// Every zoo model, widths of MobileNetV2 listed separately.
    public static let models: [ZooModel] = {
        // Published figures for MobileNetV2 widths: the TF-Slim MobileNetV2 checkpoint table
        // (tensorflow/models, research/slim/nets/mobilenet), 224×224.
        let v2: [(Double, Double, Double, Double)] = [
            (0.35, 59e6, 1.66e6, 60.3), (0.5, 97e6, 1.95e6, 65.4), (0.75, 209e6, 2.61e6, 69.8),
            (1.0, 300e6, 3.47e6, 71.8), (1.4, 582e6, 6.06e6, 75.0),
        ]
        let slim = "TF-Slim MobileNetV2 checkpoint table (Sandler et al. 2018)"
        var list = v2.map { width, macs, params, top1 in
            ZooModel(
                name: width == 1.0 ? "mobilenet_v2" : "mobilenet_v2_\(width == 0.35 ? "0.35" : String(width))",
                summary: "MobileNetV2, width \(width)",
                published: PublishedFigures(macs: macs, parameters: params, top1: top1, source: slim),
                isImageClassifier: true, family: "mobilenet_v2", width: width,
                build: { g, r, w in classifier(&g, r, "mobilenet_v2", w) { g, x in MobileNetV2.build(&g, x, width: w) } })
        }
        list += [
            ZooModel(
                name: "mobilenet_v3_small", summary: "MobileNetV3-Small 1.0",
                published: PublishedFigures(macs: 56e6, parameters: 2.5e6, top1: 67.4, source: "Howard et al. 2019, Searching for MobileNetV3, Table 3"),
                isImageClassifier: true, family: "mobilenet_v3", width: 1,
                build: { g, r, _ in classifier(&g, r, "mobilenet_v3_small", 1) { g, x in MobileNetV3.build(&g, x, blocks: MobileNetV3.small, lastConv: 576, head: 1024) } }),
            ZooModel(
                name: "mobilenet_v3_large", summary: "MobileNetV3-Large 1.0",
                published: PublishedFigures(macs: 219e6, parameters: 5.4e6, top1: 75.2, source: "Howard et al. 2019, Searching for MobileNetV3, Table 3"),
                isImageClassifier: true, family: "mobilenet_v3", width: 1,
                build: { g, r, _ in classifier(&g, r, "mobilenet_v3_large", 1) { g, x in MobileNetV3.build(&g, x, blocks: MobileNetV3.large, lastConv: 960, head: 1280) } }),
            ZooModel(
                name: "efficientnet_b0", summary: "EfficientNet-B0",
                published: PublishedFigures(macs: 390e6, parameters: 5.3e6, top1: 77.1, source: "Tan & Le 2019, EfficientNet, Table 2"),
                isImageClassifier: true, family: "efficientnet", width: 1,
                build: { g, r, _ in classifier(&g, r, "efficientnet_b0", 1) { g, x in EfficientNet.build(&g, x) } }),
            ZooModel(
                name: "resnet18", summary: "ResNet-18",
                published: PublishedFigures(macs: 1.82e9, parameters: 11.7e6, top1: 69.76, source: "torchvision ResNet18_Weights.IMAGENET1K_V1 (He et al. 2016)"),
                isImageClassifier: true, family: "resnet", width: 1,
                build: { g, r, _ in classifier(&g, r, "resnet18", 1) { g, x in ResNet.build(&g, x, layers: [2, 2, 2, 2], bottleneck: false) } }),
            ZooModel(
                name: "resnet50", summary: "ResNet-50 (v1.5)",
                published: PublishedFigures(macs: 4.09e9, parameters: 25.6e6, top1: 76.13, source: "torchvision ResNet50_Weights.IMAGENET1K_V1 (He et al. 2016)"),
                isImageClassifier: true, family: "resnet", width: 1,
                build: { g, r, _ in classifier(&g, r, "resnet50", 1) { g, x in ResNet.build(&g, x, layers: [3, 4, 6, 3], bottleneck: true) } }),
            ZooModel(
                name: "squeezenet1_1", summary: "SqueezeNet 1.1",
                published: PublishedFigures(macs: 350e6, parameters: 1.24e6, top1: 58.18, source: "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1 (Iandola et al. 2016)"),
                isImageClassifier: true, family: "squeezenet", width: 1,
                build: { g, r, _ in classifier(&g, r, "squeezenet1_1", 1) { g, x in SqueezeNet.build(&g, x) } }),
            ZooModel(
                name: "identity", summary: "micro-model: returns its FP32[16] input (protocol overhead)",
                published: nil, isImageClassifier: false, family: "micro", width: 1,
                build: { g, _, _ in
                    let x = g.input("input", dims: [16])
                    return g.model(name: "identity", outputs: [(x, "output", [16])], docString: "EdgeInsight micro-model: identity on FP32[N,16].")
                }),
            ZooModel(
                name: "add", summary: "micro-model: sums two FP32[16] inputs (protocol overhead)",
                published: nil, isImageClassifier: false, family: "micro", width: 1,
                build: { g, _, _ in
                    let a = g.input("a", dims: [16]), b = g.input("b", dims: [16])
                    return g.model(name: "add", outputs: [(g.op("Add", [a, b]), "sum", [16])], docString: "EdgeInsight micro-model: a + b on FP32[N,16].")
                }),
        ]
        return list
    }()

    /// A zoo name may fix its input resolution: `resnet18@160` is ResNet-18 taking 160×160 images
    /// (the same weights, about half the MACs and activations of 224 — what tells a model's weight
    /// cost from its compute's). The name without it, and the resolution if given.
    public static func splitResolution(_ name: String) -> (name: String, resolution: Int?) {
        guard let at = name.lastIndex(of: "@"), let resolution = Int(name[name.index(after: at)...]) else { return (name, nil) }
        return (String(name[..<at]), resolution)
    }

    /// Looks a model up by name (`mobilenet_v2_0.5` and `mobilenet_v2 --width 0.5` are the same;
    /// a resolution suffix, `@160`, names the same model).
    public static func model(named name: String, width: Double? = nil) throws(ZooError) -> ZooModel {
        var wanted = splitResolution(name).name.lowercased().replacingOccurrences(of: "-", with: "_")
        if let width, wanted == "mobilenet_v2" {
            wanted = width == 1.0 ? "mobilenet_v2" : "mobilenet_v2_\(width == 0.35 ? "0.35" : String(width))"
        } else if let width, width != 1.0 {
            throw .badParameter("a width multiplier applies to mobilenet_v2 only (0.35, 0.5, 0.75, 1.0, 1.4)")
        }
        guard let model = models.first(where: { $0.name == wanted }) else {
            if wanted.hasPrefix("mobilenet_v2_") {
                throw .badParameter("mobilenet_v2 comes in widths 0.35, 0.5, 0.75, 1.0 and 1.4, not '\(name)'")
            }
            throw .unknownModel(name, known: models.map(\.name))
        }
        return model
    }

    /// The name a server gives a model as the user named it: the zoo's own name, or a file's name
    /// without folder and extension (`models/detector.onnx` → `detector`).
    public static func servedName(_ nameOrPath: String) -> String {
        if let model = try? model(named: nameOrPath), !FileManager.default.fileExists(atPath: nameOrPath) {
            return model.name + (splitResolution(nameOrPath).resolution.map { "@\($0)" } ?? "")
        }
        return ((nameOrPath as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// Whether `name` is a zoo model's name (rather than a file).
    public static func isZooModel(_ name: String) -> Bool { (try? model(named: name)) != nil }

    /// Turns what a user typed into a model file: an existing file is used as it is; a zoo name
    /// (with an optional width) becomes the cached file at `resolution` (or the name's own,
    /// `resnet18@160`) in `format`. The label says which.
    public static func resolve(_ nameOrPath: String, resolution: Int = 224, width: Double? = nil, format: ModelFormat = .onnx) throws(ZooError) -> (path: String, label: String) {
        if FileManager.default.fileExists(atPath: nameOrPath) { return (nameOrPath, nameOrPath) }
        let looksLikePath = nameOrPath.contains("/") || nameOrPath.contains(".") && (try? model(named: nameOrPath)) == nil
        // A missing file is the engine's to report ("model file not found"), naming the path.
        if looksLikePath && width == nil { return (nameOrPath, nameOrPath) }
        let zoo = try model(named: nameOrPath, width: width)
        let resolution = splitResolution(nameOrPath).resolution ?? resolution
        let path = try cachedFile(zoo, resolution: resolution, format: format)
        return (path, zoo.isImageClassifier ? "\(zoo.name) at \(resolution)×\(resolution)" : zoo.name)
    }

    /// Builds a zoo model as an ONNX model. Weights are seeded by name and resolution.
    public static func build(_ model: ZooModel, resolution: Int = 224) throws(ZooError) -> Onnx_ModelProto {
        guard (32...2048).contains(resolution) else {
            throw .badParameter("resolution must be between 32 and 2048 pixels, got \(resolution)")
        }
        var seed: UInt64 = 0xED6E
        for byte in model.name.utf8 { seed = seed &* 31 &+ UInt64(byte) }
        var builder = GraphBuilder(seed: seed &+ UInt64(resolution))
        return model.build(&builder, resolution, model.width)
    }

    /// Writes a zoo model to `path` in `format` (atomically: readers never see half a file).
    public static func write(_ model: ZooModel, resolution: Int = 224, format: ModelFormat = .onnx, to path: String) throws(ZooError) {
        let proto = try build(model, resolution: resolution)
        let data: Data
        switch format {
        case .onnx:
            do { data = try proto.serializedData() } catch { throw .writeFailed(path: path, reason: "\(error)") }
        case .tflite:
            data = Data(try TFLiteWriter.convert(proto))
        }
        do {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw .writeFailed(path: path, reason: error.localizedDescription)
        }
    }

    /// The path of a zoo model in the cache, built there on first use.
    /// The cache is `$EDGEINSIGHT_CACHE`, else `$XDG_CACHE_HOME/edgeinsight`, else `~/.cache/edgeinsight`.
    public static func cachedFile(_ model: ZooModel, resolution: Int = 224, format: ModelFormat = .onnx) throws(ZooError) -> String {
        let path = cacheFolder() + "/models/\(model.name)-\(model.isImageClassifier ? resolution : 0)-v\(formatVersion).\(format.rawValue)"
        if !FileManager.default.fileExists(atPath: path) {
            try write(model, resolution: resolution, format: format, to: path)
        }
        return path
    }

    /// Bumped whenever a builder changes what it writes, so stale cached files are not reused.
    static let formatVersion = 3

    static func cacheFolder() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["EDGEINSIGHT_CACHE"], !folder.isEmpty { return folder }
        if let folder = environment["XDG_CACHE_HOME"], !folder.isEmpty { return folder + "/edgeinsight" }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/edgeinsight"
    }

    /// Wraps an architecture: image input `[batch,3,R,R]`, logits output `[batch,1000]`.
    private static func classifier(
        _ g: inout GraphBuilder, _ resolution: Int, _ name: String, _ width: Double,
        body: (inout GraphBuilder, Node) -> Node
    ) -> Onnx_ModelProto {
        let input = g.input("input", dims: [3, resolution, resolution])
        let logits = body(&g, input)
        return g.model(
            name: name, outputs: [(logits, "logits", [1000])],
            docString: "EdgeInsight zoo: \(name) width \(width) at \(resolution)x\(resolution). Weights are seeded random, not trained.")
    }
}

extension ZooModel: CustomStringConvertible {
    public var description: String { name }
}
