import EdgeInsightCore
import Foundation
@testable import ModelZoo
import TestSupport
import Testing

/// Cut models against onnx itself: each head and tail is what `onnx.utils.extract_model` cuts from
/// the whole model for the same tensors (the same operators and weights), both pass the ONNX
/// checker, and OpenVINO running the head then the tail gives the whole model's outputs.
@Suite(.timeLimit(.minutes(5)), .enabled(if: Requirements.onnx && Requirements.openVINOPython, "needs onnx and OpenVINO's Python API: run scripts/setup"))
struct ModelCutTests {
    static let reference = """
        import json, sys
        import numpy as np, onnx, onnx.utils, openvino as ov
        whole, head, tail, folder = sys.argv[1:5]
        crossing = json.loads(sys.argv[5])
        for part in (head, tail): onnx.checker.check_model(onnx.load(part), full_check=True)
        m = onnx.load(whole)
        weights = {t.name for t in m.graph.initializer}
        inputs = [i.name for i in m.graph.input if i.name not in weights]
        outputs = [o.name for o in m.graph.output]
        onnx.utils.extract_model(whole, folder + "/ref-head.onnx", inputs, crossing)
        onnx.utils.extract_model(whole, folder + "/ref-tail.onnx", crossing, outputs)
        def parts(path):
            g = onnx.load(path).graph
            return sorted(n.op_type for n in g.node), sorted(t.name for t in g.initializer)
        core = ov.Core()
        # FP32 throughout: on CPUs with AVX-512 BF16 OpenVINO would otherwise choose bf16.
        f32 = {"INFERENCE_PRECISION_HINT": "f32"}
        x = np.random.default_rng(1).standard_normal((1, 3, 96, 96)).astype(np.float32)
        expected = core.compile_model(whole, "CPU", f32)({inputs[0]: x})[0]
        h = core.compile_model(head, "CPU", f32)({inputs[0]: x})
        sent = {name: h[name] for name in crossing}
        got = core.compile_model(tail, "CPU", f32)(sent)[0]
        print(json.dumps({"head": parts(head) == parts(folder + "/ref-head.onnx"), "tail": parts(tail) == parts(folder + "/ref-tail.onnx"),
                          "diff": float(np.max(np.abs(got - expected))), "scale": float(np.max(np.abs(expected)))}))
        """

    @Test(arguments: [("mobilenet_v2", 1), ("mobilenet_v2", 2), ("resnet18", 1), ("resnet18", 2), ("squeezenet1_1", 2)])
    func headThenTailIsTheWholeModel(model name: String, crossing count: Int) throws {
        let folder = temporaryPath("cut-\(name)-\(count)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = try ModelZoo.build(try ModelZoo.model(named: name), resolution: 96)
        let analysis = try ModelAnalyzer.analyze(model)
        let points = ModelCut.points(model, analysis: analysis)
        // A cut near the middle carrying `count` tensors (a skip connection crossing it for 2).
        let candidates = points.filter { $0.crossing.count == count }
        let point = try #require(candidates.min { abs($0.headMACs - $0.tailMACs) < abs($1.headMACs - $1.tailMACs) }, "\(name) has no cut of \(count) tensors")
        let (head, tail, cut) = try ModelCut.cut(model, after: point.after, analysis: analysis)
        #expect(cut == point && cut.headMACs + cut.tailMACs == analysis.macs)
        // Our own analysis of each part agrees with the cut's figures.
        #expect(try ModelAnalyzer.analyze(head).macs == cut.headMACs && ModelAnalyzer.analyze(tail).macs == cut.tailMACs)
        for (part, file) in [(model, "whole"), (head, "head"), (tail, "tail")] {
            try part.serializedData().write(to: URL(fileURLWithPath: "\(folder)/\(file).onnx"))
        }
        let crossing = String(decoding: try JSONEncoder().encode(cut.crossing), as: UTF8.self)
        let result = try python(Self.reference, ["\(folder)/whole.onnx", "\(folder)/head.onnx", "\(folder)/tail.onnx", folder, crossing])
        try #require(result.status == 0, "\(result.stderr)")
        struct Reference: Decodable { var head: Bool; var tail: Bool; var diff: Double; var scale: Double }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(result.stdout.utf8))
        #expect(reference.head && reference.tail, "\(name) after \(cut.after): not what onnx.utils.extract_model cuts")
        #expect(reference.diff <= 1e-4 * max(1, reference.scale), "\(name) after \(cut.after): head→tail differs by \(reference.diff)")
    }

    /// A tensor no cut follows is a one-line error naming the cuts there are.
    @Test func aTensorNoCutFollowsIsAnError() throws {
        let model = try ModelZoo.build(try ModelZoo.model(named: "resnet18"), resolution: 96)
        let analysis = try ModelAnalyzer.analyze(model)
        #expect(throws: ZooError.self) { try ModelCut.cut(model, after: "no-such-tensor", analysis: analysis) }
        do { _ = try ModelCut.cut(model, after: model.graph.output[0].name, analysis: analysis) } catch {
            #expect("\(error)".hasPrefix("no cut after '\(model.graph.output[0].name)'") && "\(error)".contains("models inspect --cuts"), "\(error)")
        }
    }
}
