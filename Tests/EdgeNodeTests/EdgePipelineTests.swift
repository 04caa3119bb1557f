import EdgeInsightCore
import Engine
import Foundation
@testable import EdgeNode
import Imaging
import ModelZoo
import TestSupport
import Testing

func compiledZooModel(_ name: String, _ configure: (inout EngineSettings) -> Void = { _ in }) throws -> any CompiledModel {
    var settings = EngineSettings()
    settings.hint = .latency
    configure(&settings)
    return try OpenVINOEngine().compile(modelAt: try ModelZoo.cachedFile(try ModelZoo.model(named: name)), settings: settings)
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct EdgePipelineTests {
    @Test func stageMeansAddUpToTheEndToEndMean() throws {
        var config = EdgePipelineConfig(source: .camera(width: 640, height: 480, quality: 80, subsampling: .s420, seed: 1),
                                        arrivals: .constant(rate: 10), duration: .seconds(2))
        config.queueCapacity = 16   // room for a stall of the busy test machine
        let report = try EdgePipeline.run(config, model: try compiledZooModel("mobilenet_v2"))
        #expect(report.offered == 20)
        #expect(report.processed == 20)
        #expect(report.dropped == 0 && report.failed == 0)
        #expect(report.stages.map(\.stage) == [.capture, .encode, .queue, .preprocess, .infer, .postprocess])
        let sum = report.stages.reduce(0) { $0 + $1.latency.meanNs }
        #expect(abs(sum - report.endToEnd.meanNs) / report.endToEnd.meanNs < 0.05, "stage sum \(sum) vs end-to-end \(report.endToEnd.meanNs)")
        #expect(report.meanFrameBytes > 10_000)
        #expect(abs(report.offeredRate - 10) < 0.5)
        #expect((0..<1000).contains(try #require(report.lastResult?.topClass)))
    }

    /// One inference thread running ResNet-50 in f32 manages ~15–30 frames/s here; offering 120
    /// must fill the queue and drop frames. The margins come from what the run itself measured, so
    /// a busy machine (a slower inference) moves the bound with it: once the queue is full, a frame
    /// waits for the frames ahead of it, about capacity × the device's time per frame.
    @Test func overloadFillsTheQueueAndDrops() throws {
        var config = EdgePipelineConfig(source: .camera(width: 320, height: 240, quality: 80, subsampling: .s420, seed: 2),
                                        arrivals: .constant(rate: 120), duration: .milliseconds(2500))
        config.queueCapacity = 16
        let report = try EdgePipeline.run(config, model: try compiledZooModel("resnet50") { $0.threads = 1; $0.precision = .f32 })
        #expect(report.dropped > 0)
        #expect(report.throughput < report.offeredRate * 0.8)
        #expect(report.offered == report.processed + report.dropped + report.failed)
        // The device's time per frame, from this run's own stages.
        let serviceMs = report.stages.filter { [.preprocess, .infer, .postprocess].contains($0.stage) }.reduce(0) { $0 + $1.latency.meanNs / 1e6 }
        #expect(serviceMs > 0)
        let last = try #require(report.timeline.last(where: { $0.processed > 0 }))
        // A full queue of 16 means ~15 frames ahead; half of that is a margin no scheduling noise closes.
        #expect(last.meanQueueMs > 0.5 * Double(config.queueCapacity - 1) * serviceMs,
                "last window's queue wait \(last.meanQueueMs) ms against \(config.queueCapacity) × \(serviceMs) ms per frame")
        let queue = try #require(report.stages.first { $0.stage == .queue })
        #expect(queue.latency.p99Ns / 1e6 > 0.5 * Double(config.queueCapacity - 1) * serviceMs, "the queue's tail is a full queue's wait")
    }

    @Test func corruptFilesInAFolderAreCountedAndSkipped() throws {
        let folder = temporaryPath("frames")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let camera = try SyntheticCamera(width: 320, height: 240)
        let good = try JPEGEncoder().encode(camera.frame(0), quality: 85)
        try Data(good).write(to: URL(fileURLWithPath: folder + "/a-good.jpg"))
        try Data(good.prefix(good.count / 3)).write(to: URL(fileURLWithPath: folder + "/b-truncated.jpg"))
        try Data().write(to: URL(fileURLWithPath: folder + "/c-empty.jpeg"))
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/d-text.JPG"))
        try Data("ignored".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        var config = EdgePipelineConfig(source: .folder(folder), arrivals: .constant(rate: 50), duration: nil, frames: 12)
        // Room for every frame: on a busy machine the device may fall behind, and a drop would
        // change the counts this test is about.
        config.queueCapacity = 12
        let report = try EdgePipeline.run(config, model: try compiledZooModel("squeezenet1_1"))
        #expect(report.offered == 12 && report.dropped == 0)
        #expect(report.processed == 3)     // frames 0, 4, 8 are the good file
        #expect(report.failed == 9)
        #expect(report.errors.keys.allSatisfy { $0.contains("corrupt or unreadable JPEG") })
    }

    @Test func badConfigurationIsOneLineAndFatal() throws {
        let model = try compiledZooModel("squeezenet1_1")
        let empty = temporaryPath("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let cases: [(EdgePipelineConfig, String)] = [
            (EdgePipelineConfig(source: .folder(empty), arrivals: .constant(rate: 5), duration: .seconds(1)), "no .jpg or .jpeg files"),
            (EdgePipelineConfig(source: .folder("/nonexistent"), arrivals: .constant(rate: 5), duration: .seconds(1)), "image folder not found"),
            (EdgePipelineConfig(source: .camera(width: 640, height: 480, quality: 0, subsampling: .s420, seed: 1), arrivals: .constant(rate: 5), duration: .seconds(1)), "quality"),
            (EdgePipelineConfig(source: .tensor, arrivals: .constant(rate: 0), duration: .seconds(1)), "rate must be positive"),
            (EdgePipelineConfig(source: .tensor, arrivals: .constant(rate: 5), duration: nil), "duration or a number of frames"),
        ]
        for (config, mentions) in cases {
            do {
                _ = try EdgePipeline.run(config, model: model)
                Issue.record("should fail: \(mentions)")
            } catch {
                #expect("\(error)".contains(mentions), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
        var mismatched = EdgePipelineConfig(source: .camera(width: 320, height: 240, quality: 80, subsampling: .s420, seed: 1), arrivals: .constant(rate: 5), duration: .seconds(1))
        mismatched.pipeline = try Pipeline(parsing: "decode → resize 224 → nchw u8")
        #expect(throws: ImagingError.self) { try EdgePipeline.run(mismatched, model: model) }
    }

    @Test func poissonArrivalsKeepTheirMeanRate() throws {
        let config = EdgePipelineConfig(source: .tensor, arrivals: .poisson(rate: 200, seed: 11), duration: .seconds(2))
        let report = try EdgePipeline.run(config, model: try compiledZooModel("squeezenet1_1"))
        // 400 expected; a Poisson count has σ = 20, and the seed makes it reproducible.
        #expect(abs(report.offered - 400) < 60, "offered \(report.offered)")
        #expect(report.stages.map(\.stage) == [.capture, .queue, .preprocess, .infer, .postprocess])
    }

    /// With a limit, the source goes on past its duration a window at a time until the last three
    /// windows are stable: a rule every run meets stops at the duration; one no run meets (100
    /// windows, more than the limit holds) runs to the limit.
    @Test func measuringGoesOnUntilStableUpToTheLimit() throws {
        let model = try compiledZooModel("squeezenet1_1")
        func run(percent: Double, windows: Int = 3) throws -> EdgePipelineReport {
            var config = EdgePipelineConfig(source: .tensor, arrivals: .constant(rate: 40), duration: .seconds(1))
            config.timelineSlice = .milliseconds(250)
            config.maxDuration = .seconds(2)
            config.stability = StabilityRule(windows: windows, percent: percent)
            config.queueCapacity = 64
            return try EdgePipeline.run(config, model: model)
        }
        let lenient = try run(percent: 10_000)
        // A busy machine can leave a window's frames unfinished when the end is judged, and buy a
        // window more; never all of them.
        #expect(lenient.offered >= 40 && lenient.offered < 80, "stops at or near its duration: \(lenient.offered) offered")
        let impossible = try run(percent: 0, windows: 100)
        #expect(impossible.offered == 80, "runs to the limit: \(impossible.offered) offered")
    }

    @Test func tracesAreWrittenAsChromeEventsAndJSONLines() throws {
        let chrome = temporaryPath("trace.json"), lines = temporaryPath("trace.jsonl")
        defer { for path in [chrome, lines] { try? FileManager.default.removeItem(atPath: path) } }
        let writer = try TraceWriter(jsonLinesPath: lines, chromePath: chrome, origin: MonotonicClock.now())
        let config = EdgePipelineConfig(source: .camera(width: 320, height: 240, quality: 70, subsampling: .s444, seed: 1), arrivals: .constant(rate: 20), duration: nil, frames: 10)
        let report = try EdgePipeline.run(config, model: try compiledZooModel("mobilenet_v3_small"), trace: writer)
        writer.close()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: chrome))) as? [String: Any])
        let events = try #require(parsed["traceEvents"] as? [[String: Any]])
        #expect(events.filter { $0["ph"] as? String == "X" }.count == report.processed * 6)
        #expect(Set(events.compactMap { $0["name"] as? String }).isSuperset(of: ["capture", "encode", "queue", "preprocess", "infer", "postprocess"]))
        let jsonLines = try String(contentsOfFile: lines, encoding: .utf8).split(separator: "\n")
        #expect(jsonLines.count == 10)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(jsonLines[0].utf8)) as? [String: Any])
        #expect((first["spans"] as? [[String: Any]])?.count == 6)
    }
}
