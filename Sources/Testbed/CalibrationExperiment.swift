import EdgeInsightCore

/// The built-in calibration (`edgeinsight calibrate`); the same text as examples/calibration.yaml
/// (a test keeps them equal).
public enum CalibrationExperiment {
    /// The calibration with its edge trials repeated on each further inference framework, so the
    /// performance model gets a compute model per framework (the cloud trials stay on OpenVINO:
    /// they calibrate the link and the protocol, not the framework).
    public static func yaml(engines: [EngineKind]) -> String {
        let edgeTrials = yaml.split(separator: "\n").filter { $0.hasPrefix("  - {model: ") && !$0.contains("placement:") }
        var text = yaml
        for engine in engines where engine != .openvino {
            for line in edgeTrials { text += "\n" + line.replacingOccurrences(of: "device: {", with: "device: {engine: \(engine.rawValue), ") }
        }
        return text
    }

    /// The built-in calibration, fitted to a time budget if given: each trial measures as long as
    /// the file says, once, without one; a budget for more measures every trial again (up to 5
    /// times: the machine differs from trial to trial more than frames differ inside one, and a
    /// fit reads every repetition); a budget for less shortens the trials, down to 1 s each. A
    /// budget too small for that is an error.
    public static func experiment(engines: [EngineKind], budget: Duration?) throws(TestbedError) -> (Experiment, Plan) {
        var experiment = try Experiment.parse(yaml(engines: engines), path: "built-in calibration (examples/calibration.yaml)")
        let workload = experiment.base.workload
        let plan = try Plan(budget: budget, trials: experiment.trials().count, warmup: workload.warmup, duration: workload.duration)
        experiment.base.workload.duration = plan.duration
        experiment.repetitions = plan.repetitions
        return (experiment, plan)
    }

    public struct Plan: Sendable, Equatable {
        public var trials: Int
        public var repetitions: Int
        public var duration: Duration
        /// What it should take: trials × repetitions × (warm-up + duration + the trial's own cost).
        public var estimate: Duration

        /// What a trial costs beyond its warm-up and measurement: its nodes started and stopped, the
        /// model compiled (0.65 s a trial, measured over the calibration on 2 cores).
        static let overhead = Duration.milliseconds(650)
        static let shortest = Duration.seconds(1), mostRepetitions = 5

        /// `trials` of `warmup` and at most `longest` each (what the file has), in `budget` (nil:
        /// each once, as the file has it).
        public init(budget: Duration?, trials: Int, warmup: Duration, duration longest: Duration) throws(TestbedError) {
            let n = Double(max(1, trials))
            func perTrial(_ duration: Duration) -> Double { (warmup + duration + Self.overhead).nanoseconds }
            self.trials = trials
            guard let budget else {
                (repetitions, duration) = (1, longest)
                estimate = .nanoseconds(Int64(n * perTrial(longest)))
                return
            }
            repetitions = max(1, min(Self.mostRepetitions, Int(budget.nanoseconds / (n * perTrial(longest)))))
            let available = budget.nanoseconds / (n * Double(repetitions)) - perTrial(.zero)
            guard available >= Self.shortest.nanoseconds else {
                throw .badExperiment("a budget of \(DurationText.format(budget)) cannot measure the calibration's \(trials) trials for \(DurationText.format(Self.shortest)) each: "
                                     + "give at least \(DurationText.format(nanoseconds: n * perTrial(Self.shortest)))")
            }
            duration = .nanoseconds(Int64(min(available, longest.nanoseconds).rounded(.down) / 1e8) * 100_000_000)
            estimate = .nanoseconds(Int64(n * Double(repetitions) * perTrial(duration)))
        }
    }

    public static let yaml = """
# What `edgeinsight calibrate` measures (the built-in calibration; a test keeps them equal): what the
# component models need and one sweep does not give — inference across a spread of zoo
# architectures, their inputs and CPU quotas, camera encoding and pre-processing across resolutions
# and JPEG qualities (each resolution at two qualities: paired one to one, a quality's cost could
# not be told from a resolution's), two threads on two cores, four threads under a one- or half-core
# quota, the cloud node's own costs, the split placement's re-encoding and the protocol's overhead. Offered gently (5 fps), so each
# trial measures its stages rather than a queue; about 3 minutes on 2 cores (`--budget` for more).
name: calibration
placement: edge
workload:
  fps: 5
  arrivals: constant
  warmup: 0.5s
  duration: 3s
  max_duration: 6s
  window: 0.5s
  queue: 4
device:
  cpu: 1
  cpuset: "0"
  memory: 2GB
  threads: 1
cloud:
  cpu: 1
  cpuset: "1"
  threads: 1
link: ethernet
trials:
  - {model: mobilenet_v2_0.5, device: {cpu: 1}, workload: {resolution: 320x240, jpeg_quality: 90}}
  - {model: mobilenet_v2_0.5, device: {cpu: 1}, workload: {resolution: 960x540, jpeg_quality: 65}}
  - {model: mobilenet_v2_0.5, device: {cpu: 0.5}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: mobilenet_v2_0.5, device: {cpu: 0.5}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: mobilenet_v2_1.4, device: {cpu: 1}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: mobilenet_v2_1.4, device: {cpu: 0.5}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: mobilenet_v3_small, device: {cpu: 1}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: mobilenet_v3_small, device: {cpu: 1}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: mobilenet_v3_small, device: {cpu: 0.5}, workload: {resolution: 960x540, jpeg_quality: 65}}
  - {model: mobilenet_v3_small, device: {cpu: 0.5}, workload: {resolution: 320x240, jpeg_quality: 50}}
  - {model: squeezenet1_1, device: {cpu: 1}, workload: {resolution: 960x540, jpeg_quality: 65}}
  - {model: squeezenet1_1, device: {cpu: 1}, workload: {resolution: 320x240, jpeg_quality: 90}}
  - {model: squeezenet1_1, device: {cpu: 0.5}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: squeezenet1_1, device: {cpu: 0.5}, workload: {resolution: 640x480, jpeg_quality: 90}}
  - {model: efficientnet_b0, device: {cpu: 1}, workload: {resolution: 1280x720, jpeg_quality: 60}}
  - {model: efficientnet_b0, device: {cpu: 1}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: efficientnet_b0, device: {cpu: 0.5}, workload: {resolution: 320x240, jpeg_quality: 90}}
  - {model: efficientnet_b0, device: {cpu: 0.5}, workload: {resolution: 960x540, jpeg_quality: 65}}
  - {model: resnet18, device: {cpu: 1}, workload: {resolution: 320x240, jpeg_quality: 90}}
  - {model: resnet18, device: {cpu: 1}, workload: {resolution: 960x540, jpeg_quality: 85}}
  - {model: resnet18, device: {cpu: 0.5}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: resnet18, device: {cpu: 0.5}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: resnet18, device: {cpu: 2, cpuset: "0-1", threads: 2}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: resnet18, device: {cpu: 2, cpuset: "0-1", threads: 2}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: efficientnet_b0, device: {cpu: 2, cpuset: "0-1", threads: 2}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: efficientnet_b0, device: {cpu: 2, cpuset: "0-1", threads: 2}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  # More threads than the quota's cores, as the device profiles run (4 threads at a fraction of 4 cores).
  - {model: efficientnet_b0, device: {cpu: 1, cpuset: "0-1", threads: 4}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: resnet18, device: {cpu: 1, cpuset: "0-1", threads: 4}, workload: {resolution: 960x540, jpeg_quality: 65}}
  - {model: mobilenet_v2_0.5, device: {cpu: 0.5, cpuset: "0-1", threads: 4}, workload: {resolution: 1280x720, jpeg_quality: 80}}
  # Architectures at another input: the same weights with fewer or more MACs and activations, so
  # the fit can tell what a model's weights cost from what its compute does.
  - {model: resnet18@112, device: {cpu: 1}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: mobilenet_v2_1.4@128, device: {cpu: 1}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: efficientnet_b0@160, device: {cpu: 1}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: mobilenet_v3_small@320, device: {cpu: 1}, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: squeezenet1_1, placement: cloud-raw, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: squeezenet1_1, placement: cloud-raw, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: resnet18, placement: cloud-raw, workload: {resolution: 640x480, jpeg_quality: 90}}
  - {model: resnet18, placement: cloud-raw, workload: {resolution: 1280x720, jpeg_quality: 60}}
  - {model: squeezenet1_1, placement: cloud-tensor, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: squeezenet1_1, placement: cloud-tensor, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: resnet18, placement: cloud-tensor, workload: {resolution: 640x480, jpeg_quality: 50}}
  - {model: resnet18, placement: cloud-tensor, workload: {resolution: 1280x720, jpeg_quality: 80}}
  - {model: squeezenet1_1, placement: split, workload: {resolution: 640x480, jpeg_quality: 50}, split: {jpeg_quality: 90}}
  - {model: resnet18, placement: split, workload: {resolution: 1280x720, jpeg_quality: 80}, split: {jpeg_quality: 75}}
  - {model: squeezenet1_1, placement: split, workload: {resolution: 960x540, jpeg_quality: 65}, split: {jpeg_quality: 60}}
"""
}
