/// The built-in demo experiment; the same text as examples/demo.yaml (a test keeps them equal).
public enum DemoExperiment {
    public static let yaml = """
# The built-in demo (`edgeinsight demo`, `make demo`): where should two image classifiers run for a
# 10 fps camera — on a small device, or on a cloud node over LTE or Ethernet?
name: demo
model: mobilenet_v2
placement: edge
workload:
  fps: 10
  arrivals: constant
  resolution: 640x480
  jpeg_quality: 80
  warmup: 0.5s
  duration: 2s
  window: 0.5s
  queue: 4
device:              # the edge node: half a core of this machine, like a small device
  cpu: 0.5
  cpuset: "0"
  memory: 1GB
  threads: 1
cloud:               # the cloud node: one core of its own
  cpu: 1
  cpuset: "1"
  threads: 1
  instances: 1
  max_batch: 1
link: lte
slo:
  p99: 500ms
sweep:
  model: [mobilenet_v2, resnet50]
  placement: [edge, cloud-raw, cloud-tensor]
  link: [lte, ethernet]
  workload.jpeg_quality: [60, 90]
  workload.resolution: [640x480, 1280x720]
"""
}
