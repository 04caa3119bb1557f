/// The plan the demo ends with; the same text as examples/plan-latency.yaml (a test keeps them equal).
public enum DemoPlan {
    public static let yaml = """
# One latency-critical device: a 10 fps inspection camera whose every frame must be classified
# within 150 ms, as accurately as possible at the lowest cost.
name: latency
workload:
  cameras: 1
  fps: 10
  arrivals: constant
  warmup: 0.5s
  duration: 3s
  resolutions: [640x480]
  jpeg_qualities: [80]
constraints:
  latency_p99: {max: 150ms}
  accuracy_top1: {min: 65}
objective: [{cost: 1}, {p99: 1}]
candidates:
  models: [mobilenet_v2_0.5, mobilenet_v2, mobilenet_v3_large, efficientnet_b0, resnet18, resnet50]
  placements: [edge, cloud-raw, cloud-tensor]
  devices: [rpi4, rpi5, jetson-nano, coral-dev]
  links: [ethernet, wifi, 5g, lte]
  cloud: [c5.large]
"""
}
