import EdgeInsightCore
import Engine
import Foundation
import ModelZoo

/// The models a server offers, by name.
public struct ModelRepository: Sendable {
    let models: [String: any ServedModel]

    public var names: [String] { models.keys.sorted() }

    /// Loads `--models DIR` (a sub-folder per model: its file and an optional config.yaml) and each
    /// `--model` (a zoo name, `sleep` or `sleep:20ms`, or a model file). `defaults` applies to models
    /// without a config.yaml.
    public static func load(folder: String?, models: [String], defaults: ModelConfig) throws(ServerError) -> ModelRepository {
        var served: [String: any ServedModel] = [:]
        var engines: [EngineKind: any InferenceEngine] = [:]
        func openEngine(_ kind: EngineKind) throws(ServerError) -> any InferenceEngine {
            if let engine = engines[kind] { return engine }
            do { engines[kind] = try kind.open() } catch { throw .cannotStart("\(error)") }
            return engines[kind]!
        }
        func add(_ model: any ServedModel) throws(ServerError) {
            guard served[model.name] == nil else { throw .badModel("two models are named '\(model.name)'") }
            served[model.name] = model
        }
        if let folder {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw .badModel("model repository not found: \(folder)")
            }
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            for name in entries where !name.hasPrefix(".") {
                let path = folder + "/" + name
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else { continue }
                let configPath = path + "/config.yaml"
                let config = FileManager.default.fileExists(atPath: configPath) ? try ModelConfig.load(configPath) : defaults
                if name == "sleep" || name.hasPrefix("sleep") && config.file == nil && modelFiles(in: path).isEmpty {
                    try add(SleepModel(name: name, config: config))
                    continue
                }
                let file: String
                if let chosen = config.file {
                    file = path + "/" + chosen
                } else {
                    let files = modelFiles(in: path)
                    guard files.count == 1 else {
                        throw .badModel("\(path): \(files.isEmpty ? "no model file (.onnx, .xml, .tflite)" : "several model files; name one with 'model:' in config.yaml")")
                    }
                    file = path + "/" + files[0]
                }
                try add(EngineModel(name: name, path: file, config: config, engine: try openEngine(config.framework)))
            }
        }
        for spec in models {
            if spec == "sleep" || spec.hasPrefix("sleep:") {
                var config = defaults
                if spec.hasPrefix("sleep:") {
                    guard let time = DurationText.parse(String(spec.dropFirst(6))) else { throw .badModel("'\(spec)': write sleep:50ms") }
                    config.sleep = time
                }
                try add(SleepModel(name: "sleep", config: config))
                continue
            }
            let resolved: (path: String, label: String)
            do { resolved = try ModelZoo.resolve(spec, format: defaults.framework.modelFormat) } catch { throw .badModel("\(error)") }
            let name = ModelZoo.servedName(spec)
            guard FileManager.default.fileExists(atPath: resolved.path) else { throw .badModel("model file not found: \(spec)") }
            try add(EngineModel(name: name, path: resolved.path, config: defaults, engine: try openEngine(defaults.framework)))
        }
        guard !served.isEmpty else { throw .noModels }
        return ModelRepository(models: served)
    }

    private static func modelFiles(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { ["onnx", "xml", "tflite"].contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted()
    }
}
