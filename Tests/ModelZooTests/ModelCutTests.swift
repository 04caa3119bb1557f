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

    /// An encoded activation against numpy: the uint8 head's tensors are ONNX's DynamicQuantizeLinear
    /// of the FP32 head's (scale (max(x,0) − min(x,0))/255, zero point round(−min/scale), values
    /// within one level of round(x/scale) + zero point), the fp16 ones the FP32 values halved; both
    /// pass the ONNX checker, the bytes that cross are the cut's own figure, and head → tail picks
    /// the whole model's top class: fp16 on all 16 inputs; uint8 on at least 13 (untrained weights
    /// have logits a fraction of a percent apart, so 8-bit rounding flips one or two: 14 and 15 here).
    static let encoded = """
        import json, sys
        import numpy as np, onnx, openvino as ov
        whole, head, tail, plain, activation = sys.argv[1:6]
        crossing = json.loads(sys.argv[6])
        for part in (head, tail): onnx.checker.check_model(onnx.load(part), full_check=True)
        core = ov.Core(); f32 = {"INFERENCE_PRECISION_HINT": "f32"}
        W, H, T, P = (core.compile_model(m, "CPU", f32) for m in (whole, head, tail, plain))
        rng = np.random.default_rng(2)
        agree, worst_level, worst_diff, sent = 0, 0, 0.0, 0
        for i in range(16):
            x = rng.standard_normal((1, 3, 96, 96)).astype(np.float32)
            expected = W(x)[0]; full = P(x); h = H(x)
            outputs = {o.any_name: h[o] for o in H.outputs}
            sent = sum(v.nbytes for v in outputs.values())
            for name in crossing:
                a = full[P.output(name)]
                if activation == "uint8":
                    lo, hi = min(a.min(), 0), max(a.max(), 0); scale = (hi - lo) / 255; zero = np.round(-lo / scale)
                    assert abs(outputs[name + ".scale"].item() - scale) <= 1e-6 * scale and outputs[name + ".zero_point"].item() == zero
                    ref = np.clip(np.round(a / scale) + zero, 0, 255)
                    worst_level = max(worst_level, int(np.abs(outputs[name].astype(np.int64) - ref).max()))
                else:
                    assert outputs[name].dtype == np.float16
                    worst_level = max(worst_level, float(np.abs(outputs[name].astype(np.float32) - a.astype(np.float16).astype(np.float32)).max()))
            got = T({i.any_name: outputs[i.any_name] for i in T.inputs})[0]
            agree += int(got.argmax() == expected.argmax())
            worst_diff = max(worst_diff, float(np.abs(got - expected).max() / np.abs(expected).max()))
        print(json.dumps({"agree": agree, "level": worst_level, "diff": worst_diff, "sent": sent}))
        """

    @Test(arguments: [("mobilenet_v2", 1, ActivationEncoding.uint8), ("mobilenet_v2", 1, .fp16), ("resnet18", 2, .uint8), ("resnet18", 2, .fp16)])
    func encodedActivationsAreWhatNumpyComputes(model name: String, crossing count: Int, activation: ActivationEncoding) throws {
        let folder = temporaryPath("encoded-\(name)-\(activation)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = try ModelZoo.build(try ModelZoo.model(named: name), resolution: 96)
        let analysis = try ModelAnalyzer.analyze(model)
        let point = try #require(ModelCut.points(model, analysis: analysis).filter { $0.crossing.count == count }
            .min { abs($0.headMACs - $0.tailMACs) < abs($1.headMACs - $1.tailMACs) })
        let plain = try ModelCut.cut(model, after: point.after, analysis: analysis)
        let (head, tail, cut) = try ModelCut.cut(model, after: point.after, analysis: analysis, activation: activation)
        for (part, file) in [(model, "whole"), (head, "head"), (tail, "tail"), (plain.head, "plain")] {
            try part.serializedData().write(to: URL(fileURLWithPath: "\(folder)/\(file).onnx"))
        }
        let crossing = String(decoding: try JSONEncoder().encode(plain.point.crossing.filter { name in model.graph.input.allSatisfy { $0.name != name } }), as: UTF8.self)
        let result = try python(Self.encoded, ["whole", "head", "tail", "plain"].map { "\(folder)/\($0).onnx" } + [activation.rawValue, crossing])
        try #require(result.status == 0, "\(result.stderr)")
        struct Reference: Decodable { var agree: Int; var level: Double; var diff: Double; var sent: Int }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(result.stdout.utf8))
        #expect(reference.level <= (activation == .uint8 ? 1 : 0), "\(name) after \(cut.after): \(activation) differs from numpy by \(reference.level)")
        #expect(reference.sent == cut.crossingBytes && cut.crossingBytes < plain.point.crossingBytes, "\(reference.sent) sent, \(cut.crossingBytes) by the cut")
        #expect(reference.agree >= (activation == .uint8 ? 13 : 16) && reference.diff < (activation == .uint8 ? 0.05 : 1e-3), "\(name) \(activation): \(reference)")
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
