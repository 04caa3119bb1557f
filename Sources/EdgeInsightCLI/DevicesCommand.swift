import ArgumentParser
import EdgeInsightCore
import Foundation
import Modeling
import Planner
import Profiles

/// `edgeinsight devices`: the device profiles and what their speeds stand on.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "The device profiles: their published measurements turned into this machine's CPU quota.",
        subcommands: [DevicesCalibrate.self])
}

/// `edgeinsight devices calibrate`: for each profile, the quota that reproduces each published
/// latency on this machine (through the calibration's compute model), their median and spread.
struct DevicesCalibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Per device profile, the CPU quota of this machine that reproduces each published latency of a zoo model, and the spread between them.",
        discussion: """
            Reads profiles/devices.yaml and a model fitted on this machine (`edgeinsight calibrate`).
            For each published measurement of a zoo model, the quota under which this machine infers
            that model, with the same threads, as fast as the source measured it on the board (at the
            board's stock clock). The profile's speed is their median; the spread says how far one
            scalar per board is from the board (it differs by operator mix and framework). A profile
            with no such measurement is UNSOURCED: the planner leaves it out unless --allow-unsourced.
            """)

    @Option(help: "The model file (default: out/calibration/model.json, from `edgeinsight calibrate`).")
    var model = "out/calibration/model.json"
    @Option(help: "This machine's framework the quotas are read through: openvino, litert, opencv.")
    var engine: EngineKind = .openvino

    func run() throws {
        guard FileManager.default.fileExists(atPath: model) else { throw ValidationError("no model at \(model): run `edgeinsight calibrate` first, or give --model FILE") }
        let fitted = try PerformanceModel.load(model)
        let profiles = try DeviceProfile.all().values.sorted { $0.name < $1.name }
        let grounds = profiles.map { DeviceGround.of($0, model: fitted, engine: engine) }
        let sourced = grounds.filter(\.sourced).count
        print("\(sourced) of \(profiles.count) device profiles stand on published measurements (quotas through \(engine.rawValue) on this machine's calibration):")
        for (profile, ground) in zip(profiles, grounds) {
            print(ground.line)
            if ground.sourced {
                print("  relative_speed for profiles/devices.yaml on this machine: \(String(format: "%.3f", ground.cores / Double(profile.cores))) (now \(UnitFormat.significant(profile.relativeSpeed)))")
            }
        }
    }
}

