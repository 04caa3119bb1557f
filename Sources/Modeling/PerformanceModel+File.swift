import EdgeInsightCore
import Foundation

/// The persisted model: written as readable JSON, read back with its version and every figure checked.
extension PerformanceModel {
    /// Writes the model as readable JSON.
    public func write(to path: String) throws(ModelingError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(self).write(to: URL(fileURLWithPath: path)) } catch { throw .badModelFile("cannot write \(path): \(error.localizedDescription)") }
    }

    /// Reads a model file; an unreadable, corrupted, older- or newer-schema file is a one-line error.
    public static func load(_ path: String) throws(ModelingError) -> PerformanceModel {
        guard let data = FileManager.default.contents(atPath: path) else { throw .badModelFile("cannot read model file \(path)") }
        struct Version: Decodable { var schemaVersion: Int }
        guard let version = try? JSONDecoder().decode(Version.self, from: data) else {
            throw .badModelFile("\(path) is not an EdgeInsight model file (no schemaVersion; make one with `edgeinsight model fit`)")
        }
        guard version.schemaVersion <= schemaVersion else {
            throw .badModelFile("\(path) has schema version \(version.schemaVersion); this EdgeInsight reads up to \(schemaVersion): fit it again or upgrade")
        }
        guard version.schemaVersion == schemaVersion else {
            throw .badModelFile("\(path) has schema version \(version.schemaVersion), from an older EdgeInsight (this one writes \(schemaVersion)): fit it again with `edgeinsight model fit`")
        }
        let model: PerformanceModel
        do { model = try JSONDecoder().decode(PerformanceModel.self, from: data) } catch {
            throw .badModelFile("\(path) is corrupted: \(describe(error))")
        }
        if let problem = model.implausible() { throw .badModelFile("\(path): \(problem)") }
        return model
    }

    /// The first figure no machine could have — a cost below zero or beyond an hour, a spread that
    /// makes every draw infinite, a share outside 0…1 — named by its field; nil when all are
    /// plausible. A model file is data a user may edit: one that once predicted with these trapped,
    /// ran out of memory or hung.
    func implausible() -> String? {
        let hour = 3.6e12
        func outside(_ value: Double, _ range: ClosedRange<Double>, _ field: String, _ unit: String) -> String? {
            value.isFinite && range.contains(value) ? nil : "'\(field)' is \(value)\(unit); it must be from \(UnitFormat.plain(range.lowerBound)) to \(UnitFormat.plain(range.upperBound))\(unit)"
        }
        var checks: [String?] = [
            outside(requestOverheadNs, 0...hour, "requestOverheadNs", " ns"),
            outside(requestHeaderBytes, 0...1e9, "requestHeaderBytes", " B"),
            outside(responseBytes, 0...1e9, "responseBytes", " B"),
        ]
        checks += fixedNs.sorted { $0.key < $1.key }.map { outside($0.value, 0...hour, "fixedNs.\($0.key)", " ns") }
        // σ of ln(time): 3 already puts the 99th percentile 1000× past the median.
        checks += spread.sorted { $0.key < $1.key }.map { outside($0.value, 0...3, "spread.\($0.key)", "") }
        checks += (spreadFixedNs ?? [:]).sorted { $0.key < $1.key }.map { outside($0.value, 0...hour, "spreadFixedNs.\($0.key)", " ns") }
        for (engine, fit) in compute.sorted(by: { $0.key < $1.key }) {
            checks.append(outside(fit.serialShare, 0...1, "compute.\(engine).serialShare", ""))
            checks.append(outside(fit.spinShare ?? 0, 0...1, "compute.\(engine).spinShare", ""))
            checks.append(outside(fit.residualLogSigma ?? 0, 0...3, "compute.\(engine).residualLogSigma", ""))
            // A family's factor multiplies its architectures' work: it must be a positive number.
            checks += (fit.families ?? [:]).sorted { $0.key < $1.key }.map { outside($0.value, 1e-3...1e3, "compute.\(engine).families.\($0.key)", "") }
            checks += fit.work.fit.coefficients.enumerated().map { outside(abs($1), 0...hour, "compute.\(engine).work coefficient \($0)", "") }
        }
        let codecFits = [("codec.bytesPerPixel", codec.bytesPerPixel), ("codec.encode", codec.encode)] + codec.preprocess.sorted { $0.key < $1.key }.map { ("codec.preprocess.\($0.key)", $0.value) }
            + serverExtra.sorted { $0.key < $1.key }.map { ("serverExtra.\($0.key)", $0.value) }
        for (field, fit) in codecFits { checks += fit.fit.coefficients.enumerated().map { outside(abs($1), 0...hour, "\(field) coefficient \($0)", "") } }
        return checks.compactMap { $0 }.first
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context), DecodingError.valueNotFound(_, let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }

    /// What differs between the environment the model was fitted on and `other`, as a note.
    public func environmentNote(_ other: [String: String]) -> String? {
        let keys = ["cpu_model", "cores", "openvino_version"]
        let differing = keys.filter { environment[$0] != nil && other[$0] != nil && environment[$0] != other[$0] }
        guard !differing.isEmpty else { return nil }
        return "the model was fitted on another environment (" + differing.map { "\($0) \(environment[$0]!) there, \(other[$0]!) here" }.joined(separator: "; ")
            + "); its predictions for this machine are unvalidated: calibrate here"
    }
}
