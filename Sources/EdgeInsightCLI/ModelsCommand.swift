import ArgumentParser
import EdgeInsightCore
import EdgeNode
import Engine
import Foundation
import ModelZoo

extension ModelFormat: ExpressibleByArgument {}
extension ActivationEncoding: ExpressibleByArgument {}

/// `edgeinsight models`: the built-in zoo and the ONNX analyzer.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List, build and inspect models.",
        subcommands: [List.self, Build.self, Inspect.self, Cut.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the built-in models with their published size, cost and accuracy.",
            discussion: "With --analyze, each model is built and its own parameters and MACs are shown beside the published ones.")

        @Flag(help: "Build every model at 224×224 and show the analyzer's figures beside the published ones.")
        var analyze = false

        func run() throws {
            var table = TextTable(analyze
                ? ["model", "description", "params", "MACs", "published params", "published MACs", "top-1 %"]
                : ["model", "description", "params", "MACs", "top-1 %", "source"])
            for model in ModelZoo.models {
                let published = model.published
                let params = published.map { CountText.format($0.parameters) } ?? "-"
                let macs = published.map { CountText.format($0.macs) } ?? "-"
                let top1 = published.map { String(format: "%.1f", $0.top1) } ?? "-"
                if analyze {
                    let analysis = try ModelAnalyzer.analyze(try ModelZoo.build(model))
                    table.add([model.name, model.summary, CountText.format(Double(analysis.parameters)), CountText.format(Double(analysis.macs)), params, macs, top1])
                } else {
                    table.add([model.name, model.summary, params, macs, top1, published?.source ?? "micro-model"])
                }
            }
            print(table.rendered)
            print("\nImage models take [batch,3,R,R] FP32 (default R = 224) and return logits [batch,1000].")
            print("Weights are seeded random, not trained: speed matches the trained model, accuracy does not.")
        }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a zoo model as an ONNX or TFLite file and print its model card.",
            discussion: "Example: edgeinsight models build mobilenet_v2 --width 0.5 --resolution 160 -o mnv2.onnx")

        @Argument(help: "Zoo model name (see `models list`).")
        var name: String

        @Option(help: "Input resolution in pixels (square).")
        var resolution = 224

        @Option(help: "Width multiplier (mobilenet_v2 only: 0.35, 0.5, 0.75, 1.0, 1.4).")
        var width: Double?

        @Option(name: [.short, .customLong("output")], help: "Output file (default: NAME-RES.FORMAT in the current folder).")
        var output: String?

        @Option(help: "File format: onnx or tflite (NHWC, for LiteRT). Default: the output file's extension, else onnx.")
        var format: ModelFormat?

        func run() throws {
            let model = try ModelZoo.model(named: name, width: width)
            let format = format ?? (output?.hasSuffix(".tflite") == true ? .tflite : .onnx)
            let path = output ?? "\(model.name)-\(resolution).\(format.rawValue)"
            try ModelZoo.write(model, resolution: resolution, format: format, to: path)
            let card = ModelCard(model: model, resolution: resolution, analysis: try ModelAnalyzer.analyze(try ModelZoo.build(model, resolution: resolution)))
            let cardPath = (path as NSString).deletingPathExtension + ".card.json"
            try (try prettyJSON(card) + "\n").write(toFile: cardPath, atomically: true, encoding: .utf8)
            print("wrote \(path) (\(Bytes(Self.fileSize(path)))) and its card \(cardPath)")
            print(Self.describe(card))
        }

        static func fileSize(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        }

        static func describe(_ card: ModelCard) -> String {
            var lines = [
                "model          \(card.name): \(card.summary)\(card.resolution.map { " at \($0)×\($0)" } ?? "")",
                "parameters     \(CountText.format(Double(card.parameters)))",
                "MACs / image   \(CountText.format(Double(card.macs)))",
                "weights        \(Bytes(card.weightBytes))",
                "activations    \(Bytes(card.activationBytes)) per image (sum of layer outputs)",
            ]
            if let published = card.published {
                lines.append("published      \(CountText.format(published.parameters)) params, \(CountText.format(published.macs)) MACs at 224, top-1 \(published.top1)% (\(published.source))")
            }
            lines.append("weights are    \(card.weights)")
            return lines.joined(separator: "\n")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Analyze an ONNX or TFLite file: parameters, MACs, weight and activation bytes per layer and in total.")

        @Argument(help: "An ONNX or TFLite file (its own shapes), or a zoo model name.")
        var file: String

        @Option(help: "Batch size to analyze at (a dynamic leading dimension takes this value).")
        var batch = 1

        @Option(parsing: .singleValue, help: "Fix an input's dynamic dimensions, e.g. input:1,3,320,320 (repeatable).")
        var shape: [String] = []

        @Flag(help: "Print the analysis as JSON.")
        var json = false

        @Flag(help: "Print totals only, not the per-layer table.")
        var summary = false

        @Flag(help: "List where the model can be cut in two (models cut): per cut, the tensors crossing, their bytes, the head's and the tail's MACs.")
        var cuts = false

        func run() throws {
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
            let path = try ModelZoo.resolve(file).path
            var shapes: [String: [Int]] = [:]
            for text in shape {
                let (name, dims) = try EngineSettings.parseShape(text)
                shapes[name ?? ""] = dims
            }
            let analysis = try ModelAnalyzer.analyze(file: path, batch: batch, shapes: shapes)
            if cuts {
                let model = try ModelCutCommand.load(path)
                let points = ModelCut.points(model, analysis: analysis)
                if json { return print(try prettyJSON(points)) }
                var table = TextTable(["after", "crossing", "bytes", "head MACs", "tail MACs"])
                for point in points {
                    table.add([point.after, point.crossing.count == 1 ? "1 tensor" : "\(point.crossing.count) tensors (\(point.crossing.joined(separator: ", ")))",
                               Bytes(point.crossingBytes).description, CountText.format(Double(point.headMACs)), CountText.format(Double(point.tailMACs))])
                }
                print("\(points.count) places \(file) can be cut (edgeinsight models cut \(file) --after TENSOR -o head.onnx tail.onnx):")
                return print(table.rendered)
            }
            if json {
                print(try prettyJSON(analysis))
                return
            }
            if !summary {
                var table = TextTable(["#", "layer", "op", "output", "params", "MACs", "weights", "activations"])
                for (i, layer) in analysis.layers.enumerated() {
                    table.add([
                        String(i), layer.name, layer.op, layer.outputShapes.isEmpty ? "?" : layer.outputShapes.map(TensorInfo.describe).joined(separator: " "),
                        String(layer.parameters), String(layer.macs), Bytes(layer.weightBytes).description, Bytes(layer.activationBytes).description,
                    ])
                }
                print(table.rendered)
                print()
            }
            print("graph          \(analysis.graphName.isEmpty ? "(unnamed)" : analysis.graphName), \(analysis.layers.count) nodes, opset \(analysis.opset), batch \(analysis.batch)")
            for input in analysis.inputs { print("input          \(input.name) \(input.elementType.rawValue) \(input.shapeDescription)") }
            for output in analysis.outputs { print("output         \(output.name) \(output.elementType.rawValue) \(output.shapeDescription)") }
            print("parameters     \(CountText.format(Double(analysis.parameters))) (\(analysis.parameters))")
            print("MACs           \(CountText.format(Double(analysis.macs))) (\(analysis.macs))")
            print("weights        \(Bytes(analysis.weightBytes))")
            print("activations    \(Bytes(analysis.activationBytes)) (largest layer output \(Bytes(analysis.peakActivationBytes)))")
            if let gaps = analysis.gapSummary { print("note           \(gaps)") }
        }
    }

    struct Cut: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cut an ONNX model in two after a tensor: the head (device) and the tail (cloud), which run in sequence give the whole model's outputs.")

        @Argument(help: "An ONNX file, or a zoo model name.")
        var file: String
        @Option(help: "The tensor to cut after (models inspect --cuts lists them).")
        var after: String
        @Option(name: .shortAndLong, parsing: .upToNextOption, help: "Where to write the head and the tail: -o head.onnx tail.onnx.")
        var output: [String] = []
        @Option(help: "Input resolution of a zoo model.")
        var resolution = 224
        @Option(help: "How the activation crosses: fp32, fp16 or uint8 (quantised per frame with its own range).")
        var activation = ActivationEncoding.fp32
        @Option(help: "Frames of the synthetic camera to measure an encoded activation's top-1 agreement with the whole model on (0: do not measure).")
        var frames = 32

        func run() throws {
            guard output.count == 2 else { throw ValidationError("-o takes two files: the head's and the tail's, e.g. -o head.onnx tail.onnx") }
            guard (0...10_000).contains(frames) else { throw ValidationError("--frames must be from 0 to 10000 (got \(frames))") }
            let model: Onnx_ModelProto
            if FileManager.default.fileExists(atPath: file) { model = try ModelCutCommand.load(file) } else { model = try ModelZoo.build(try ModelZoo.model(named: file), resolution: resolution) }
            let (head, tail, point) = try ModelCut.cut(model, after: after, analysis: try ModelAnalyzer.analyze(model), activation: activation)
            for (part, path) in zip([head, tail], output) {
                do { try part.serializedData().write(to: URL(fileURLWithPath: path)) } catch { throw ValidationError("cannot write \(path): \(error)") }
            }
            print("head \(output[0]): \(head.graph.node.count) nodes, \(CountText.format(Double(point.headMACs))) MACs → \(point.crossing.joined(separator: ", ")) (\(Bytes(point.crossingBytes)) as \(activation.rawValue))")
            print("tail \(output[1]): \(tail.graph.node.count) nodes, \(CountText.format(Double(point.tailMACs))) MACs → \(tail.graph.output.map(\.name).joined(separator: ", "))")
            if activation != .fp32, frames > 0 {
                let named = FileManager.default.fileExists(atPath: file) || resolution == 224 ? file : "\(file)@\(resolution)"
                print("\(activation.rawValue): " + (try CutAgreement.measure(model: named, after: after, activation: activation, frames: frames)).description + " (OpenVINO, FP32)")
            }
        }
    }
}

/// Reads an ONNX file for cutting (a TFLite file cannot be cut yet: say so).
enum ModelCutCommand {
    static func load(_ path: String) throws -> Onnx_ModelProto {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        if TFLiteAnalyzer.isTFLite([UInt8](data.prefix(8))) { throw ValidationError("\(path): cutting reads ONNX models; this is TFLite") }
        return try Onnx_ModelProto(serializedBytes: data)
    }
}
