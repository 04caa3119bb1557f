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

    public static let yaml = """
# What `edgeinsight calibrate` measures (the built-in calibration; a test keeps them equal): what the
# component models need and one sweep does not give — inference across a spread of zoo
# architectures, input resolutions and CPU quotas, camera encoding and pre-processing across resolutions and JPEG
# qualities (each resolution at two qualities: paired one to one, a quality's cost could not be told
# from a resolution's), two threads on two cores, four threads under a one- or half-core quota, the cloud node's own costs and the protocol's overhead. Offered gently (5 fps), so each
# trial measures its stages rather than a queue; about 3 minutes on 2 cores.
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
"""
}
