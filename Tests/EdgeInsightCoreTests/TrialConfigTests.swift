import EdgeInsightCore
import Foundation
import Testing

@Suite struct TrialConfigTests {
    @Test func defaultsAreTheDocumentedOnes() {
        let config = TrialConfig()
        #expect(config.model == "mobilenet_v2" && config.placement == .edge)
        #expect(config.workload.fps == 10 && config.workload.arrivals == .constant && config.workload.resolution == PixelSize(width: 640, height: 480))
        #expect(config.workload.duration == .seconds(3) && config.workload.warmup == .seconds(1) && config.workload.queue == 4)
        #expect(config.device.cpu == 1 && config.device.threads == 1 && config.cloud.maxBatch == 1 && config.link.profile == "ethernet")
        #expect(config.slo.p99 == nil && config.link.rtt == nil)
    }

    /// Every setting set to a value other than its default survives JSON both ways, exactly.
    @Test func everySettingRoundTripsThroughJSON() throws {
        let values: [String: String] = [
            "model": "resnet50", "model.shape": "1,3,320,320", "placement": "split", "workload.fps": "7.5", "workload.arrivals": "poisson", "workload.resolution": "320x240",
            "workload.jpeg_quality": "61", "workload.duration": "1500ms", "workload.max_duration": "6s", "workload.warmup": "250ms", "workload.window": "200ms",
            "workload.queue": "9", "workload.inflight": "3", "workload.cameras": "5", "device.profile": "rpi4", "device.host": "pi", "device.cpu": "0.35", "device.cpuset": "0",
            "device.memory": "1500MB", "device.threads": "2", "cloud.host": "vm", "cloud.cpu": "1.5", "cloud.cpuset": "1", "cloud.memory": "2GB",
            "cloud.threads": "2", "cloud.engine": "opencv", "cloud.instances": "3", "cloud.max_batch": "8", "cloud.http_threads": "2", "link": "lte",
            "link.uplink": "12500kbit", "link.downlink": "40mbit", "link.rtt": "35ms", "link.jitter": "3ms", "link.loss": "0.01",
            "link.shaping": "proxy", "split.jpeg_quality": "77", "slo.p99": "180ms", "transport": "mqtt", "mqtt.url": "mqtt://broker.example:1884",
            "mqtt.username": "cam", "mqtt.password_file": "pw.txt", "mqtt.qos": "0", "mqtt.timeout": "3s",
        ]
        // device.engine and partition.* are the keys a split trial does not use (the edge and
        // partition placements' own); the external service's keys replace the cloud node's and the
        // link's (below).
        let external = ["cloud.url", "cloud.model", "cloud.token_file"]
        #expect(Set(values.keys).union(["device.engine", "partition.after", "partition.activation"] + external) == Set(TrialConfig.keys), "the test covers every key")
        let partition = try TrialConfig(parameters: ["placement": "partition", "partition.after": "t61", "partition.activation": "uint8", "split.jpeg_quality": "50"])
        #expect(partition.parameters["partition.after"] == "t61" && partition.parameters["partition.activation"] == "uint8" && partition.parameters["split.jpeg_quality"] == nil)
        #expect(throws: TrialConfigError.self) { try TrialConfig(parameters: ["placement": "partition", "partition.activation": "int4"]) }
        #expect(try JSONDecoder().decode(TrialConfig.self, from: try JSONEncoder().encode(partition)) == partition.normalized)
        // The broker's settings belong to the mqtt transport; a QoS MQTT has but we do not offer is refused.
        let overHTTP = try TrialConfig(parameters: ["placement": "cloud-raw", "mqtt.qos": "0"])
        #expect(overHTTP.parameters["transport"] == "http" && overHTTP.parameters["mqtt.qos"] == nil)
        #expect(try TrialConfig(parameters: ["placement": "edge", "transport": "mqtt"]).parameters["transport"] == nil)
        #expect(throws: TrialConfigError.self) { try TrialConfig(parameters: ["transport": "mqtt", "mqtt.qos": "2"]) }
        #expect(throws: TrialConfigError.self) { try TrialConfig(parameters: ["transport": "mqtt", "mqtt.url": "http://broker:1883"]) }
        let config = try TrialConfig(parameters: values)
        #expect(config.parameters == values)
        let decoded = try JSONDecoder().decode(TrialConfig.self, from: try JSONEncoder().encode(config))
        #expect(decoded == config)
        #expect(config.workload.duration == .milliseconds(1500) && config.link.uplink == Bandwidth(bitsPerSecond: 12.5e6))
        #expect(config.device.memory == Bytes(1_500_000_000) && config.cloud.httpThreads == 2 && config.workload.arrivals == .poisson)
        let edge = try TrialConfig(parameters: ["placement": "edge", "device.engine": "opencv"])
        #expect(edge.device.engine == .opencv && edge.parameters["device.engine"] == "opencv")
        #expect(try JSONDecoder().decode(TrialConfig.self, from: try JSONEncoder().encode(edge)) == edge)
        // An existing service: its own keys, and none of the cloud node's or the link's (nothing is started or shaped).
        let service = ["model": "resnet50", "placement": "cloud-tensor", "cloud.url": "https://triton.example:8000", "cloud.model": "resnet50_onnx",
                       "cloud.token_file": "/etc/token", "device.host": "pi"]
        var withNode = try TrialConfig(parameters: service)
        try withNode.set("cloud.cpu", "4")
        try withNode.set("link", "lte")
        let kept = Set(withNode.parameters.keys)
        #expect(kept.isSuperset(of: external) && !kept.contains("cloud.cpu") && !kept.contains("link") && !kept.contains("cloud.host"), "\(kept)")
        #expect(try JSONDecoder().decode(TrialConfig.self, from: try JSONEncoder().encode(withNode)).normalized == withNode.normalized)
        #expect(!withNode.startsCloudNode && TrialConfig().parameters["cloud.url"] == nil)
        #expect(throws: TrialConfigError.self) { try TrialConfig(parameters: ["cloud.url": "triton:8000"]) }
    }

    @Test func anEdgeTrialLeavesOutWhatItDoesNotUse() throws {
        var config = TrialConfig()
        try config.set("link", "lte")
        try config.set("cloud.cpu", "2")
        try config.set("workload.inflight", "4")
        #expect(config.parameters["link"] == nil && config.parameters["cloud.cpu"] == nil && config.parameters["workload.inflight"] == nil)
        #expect(config.parameters["split.jpeg_quality"] == nil)
        #expect(config.normalized == TrialConfig())
        try config.set("placement", "cloud-raw")
        #expect(config.parameters["link"] == "lte" && config.parameters["workload.inflight"] == "4")
    }

    @Test(arguments: [
        ("workload.fps", "-3", "'workload.fps' must be a number from 0.001 to 10000 frames per second (got '-3')"),
        // Values the parser once took and the simulation trapped or choked on (issue 29's list).
        ("workload.fps", "1e-11", "'workload.fps' must be a number from 0.001 to 10000 frames per second"),
        ("workload.fps", "1e9", "'workload.fps' must be a number from 0.001 to 10000 frames per second"),
        ("workload.duration", "1e10s", "'workload.duration' must be a duration from 1ms to 24h"),
        ("workload.warmup", "1e10s", "'workload.warmup' must be a duration from 0ns to 1h"),
        ("device.cpu", "1e300", "'device.cpu' must be a number from 0.001 to 1024 cores"),
        ("link.loss", "banana", "'link.loss' must be a loss rate from 0% to 100%"),
        ("link.loss", "200%", "'link.loss' must be a loss rate from 0% to 100%"),
        ("link.loss", "-5%", "'link.loss' must be a loss rate from 0% to 100%"),
        ("slo.p99", "0s", "'slo.p99' must be a duration from 1us to 1h"),
        ("workload.resolution", "640*480", "'workload.resolution' must be WIDTHxHEIGHT"),
        ("workload.jpeg_quality", "101", "'workload.jpeg_quality' must be an integer in 1…100"),
        ("workload.duration", "0s", "'workload.duration' must be a duration"),
        ("placement", "moon", "'placement' must be one of edge, cloud-raw, cloud-tensor, split"),
        ("device.colour", "red", "unknown key 'device.colour'"),
    ])
    func badValuesAreOneLineErrorsNamingTheKey(key: String, value: String, message: String) {
        var config = TrialConfig()
        #expect(throws: TrialConfigError.self) { try config.set(key, value) }
        do { try config.set(key, value) } catch {
            #expect(error.message.hasPrefix(message), "\(error.message)")
            #expect(!error.message.contains("\n"))
        }
        #expect(config == TrialConfig(), "a rejected value leaves the configuration as it was")
    }

    @Test func aBadValueInJSONIsADecodingErrorNamingTheKey() {
        let json = Data(#"{"model": "resnet50", "workload.queue": "0"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TrialConfig.self, from: json) }
        do { _ = try JSONDecoder().decode(TrialConfig.self, from: json) } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription.contains("'workload.queue'"))
        } catch { Issue.record("\(error)") }
    }

    @Test func oldArrivalSpellingIsAcceptedAsConstant() throws {
        var config = TrialConfig()
        try config.set("workload.arrivals", "fixed")
        #expect(config.workload.arrivals == .constant)
        #expect(ArrivalProcess.Kind.parse("fixed")! == (.constant, true))
        #expect(ArrivalProcess.Kind.parse("Poisson")! == (.poisson, false))
        #expect(ArrivalProcess.Kind.parse("bursty") == nil)
    }
}

@Suite struct ArrivalScheduleTests {
    /// Item i of a constant process is due at start + i/rate exactly: 1/3 s gaps, rounded each
    /// time, would drift; the schedule does not.
    @Test func constantArrivalsDoNotDrift() {
        var schedule = ArrivalProcess.constant(rate: 3).schedule(from: 1_000)
        var times: [UInt64] = []
        for _ in 0..<3001 { times.append(schedule.next()!) }
        #expect(times[0] == 1_000)
        #expect(times[3] == 1_000 + 1_000_000_000)
        #expect(times[3000] == 1_000 + 1_000_000_000_000)
        #expect(zip(times.dropFirst(), times).allSatisfy { $0 - $1 == 333_333_333 || $0 - $1 == 333_333_334 })
    }

    /// Poisson gaps: the mean is 1/rate and the coefficient of variation 1 (an exponential's), within
    /// what 20 000 samples allow (standard error of the mean 0.7%).
    @Test func poissonGapsHaveTheExponentialsMeanAndSpread() {
        var schedule = ArrivalProcess.poisson(rate: 200, seed: 7).schedule(from: 0)
        var previous = schedule.next()!
        var gaps: [Double] = []
        for _ in 0..<20_000 {
            let next = schedule.next()!
            gaps.append(Double(next - previous))
            previous = next
        }
        let mean = gaps.reduce(0, +) / Double(gaps.count)
        let sd = (gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count)).squareRoot()
        #expect(abs(mean - 5e6) / 5e6 < 0.03, "mean gap \(mean) ns")
        #expect(abs(sd / mean - 1) < 0.05, "coefficient of variation \(sd / mean)")
        // The same seed, the same schedule.
        var again = ArrivalProcess.poisson(rate: 200, seed: 7).schedule(from: 0)
        _ = again.next()
        #expect(UInt64(gaps[0]) == again.next()!)
    }

    @Test func intervalsCycleAndAsFastAsPossibleHasNoSchedule() {
        var schedule = ArrivalProcess.intervals([10, 30]).schedule(from: 100)
        #expect((0..<5).map { _ in schedule.next()! } == [100, 110, 140, 150, 180])
        #expect(ArrivalProcess.intervals([10, 30]).rate == 1e9 / 20)
        var none = ArrivalProcess.asFastAsPossible.schedule(from: 5)
        #expect(none.next() == nil)
        #expect(ArrivalProcess.constant(rate: 0).problem != nil && ArrivalProcess.intervals([]).problem != nil)
    }
}

@Suite struct StabilityRuleTests {
    func windows(_ pairs: [(Double, Double)]) -> [StabilityRule.Window] { pairs.map { StabilityRule.Window(throughput: $0.0, latency: $0.1) } }

    /// By hand: max/min of 10, 10.5, 11 is 1.10 (stable at 10%); of 10, 10.5, 11.2 is 1.12 (not).
    @Test func maxOverMinOfTheLastWindowsDecides() {
        let rule = StabilityRule()
        #expect(rule.isStable(windows([(99, 1), (10, 20), (10.5, 21), (11, 22)])), "only the last three count")
        #expect(!rule.isStable(windows([(10, 20), (10.5, 21), (11.2, 21)])), "throughput spread 12%")
        #expect(!rule.isStable(windows([(10, 20), (10, 21), (10, 22.5)])), "latency spread 12.5%")
        #expect(!rule.isStable(windows([(10, 20), (10, 20)])), "fewer windows than the rule needs")
        #expect(!rule.isStable(windows([(0, 20), (0, 20), (0, 20)])), "nothing completed")
        #expect(StabilityRule(windows: 3, percent: 15).isStable(windows([(10, 20), (10.5, 21), (11.2, 21)])))
    }

    /// A trial's rule allows for what a few frames cannot tell: windows of 2 and 3 frames (0.5 s
    /// at 5 fps, a real calibration trial's last three) are steady where perf_analyzer's rule calls
    /// them unstable; a real drift — medians moving 20 → 30 ms over windows of 50 frames of small
    /// spread, or throughput falling 50 → 30 frames — is still unstable.
    @Test func aTrialsRuleAllowsForFewFramesButNotForADrift() {
        let rule = StabilityRule()
        func frames(_ rows: [(Int, Double, Double)]) -> [StabilityRule.FrameWindow] { rows.map { .init(frames: $0.0, p50: $0.1, p99: $0.2) } }
        let few = frames([(2, 28.6, 42.1), (3, 42.3, 42.3), (2, 43.5, 46.1)])
        #expect(rule.isSteady(few))
        #expect(!rule.isStable(few.map { .init(throughput: Double($0.frames) / 0.5, latency: $0.p99) }), "perf_analyzer's rule on the same windows")
        #expect(!rule.isSteady(frames([(50, 20, 26), (50, 25, 32.5), (50, 30, 39)])), "median drift")
        #expect(rule.isSteady(frames([(50, 20, 26), (50, 20.5, 27), (50, 21, 27)])), "within 10%")
        #expect(!rule.isSteady(frames([(50, 20, 26), (40, 20, 26), (30, 20, 26)])), "throughput falls")
        #expect(!rule.isSteady(frames([(50, 20, 26), (50, 20, 26)])), "fewer windows than the rule needs")
        #expect(!rule.isSteady(frames([(0, 0, 0), (50, 20, 26), (50, 20, 26)]).suffix(3).map { $0 }), "a window answered nothing")
    }
}

@Suite struct PixelSizeTests {
    @Test func parsesWidthByHeight() {
        #expect(PixelSize(parsing: "640x480") == PixelSize(width: 640, height: 480))
        #expect(PixelSize(parsing: "1280X720")?.description == "1280x720")
        #expect(PixelSize(parsing: "224") == nil && PixelSize(parsing: "224", squareAllowed: true) == PixelSize(width: 224, height: 224))
        #expect(PixelSize(parsing: "0x10")?.pixels == 0, "ranges are the caller's")
        for bad in ["", "x480", "640x", "640x480x3", "-1x5", "axb"] { #expect(PixelSize(parsing: bad) == nil, "\(bad)") }
    }

    /// N cameras run as one stream of N times the frames, requests in flight, device queue and CPU,
    /// over a link N times as wide; an edge trial has no cloud node to share, so cameras do not apply.
    @Test func severalCamerasAggregateIntoOneStream() throws {
        var config = TrialConfig()
        try config.set("placement", "cloud-tensor")
        try config.set("workload.cameras", "4")
        try config.set("workload.fps", "2.5")
        try config.set("device.cpu", "0.5")
        let run = config.aggregatingCameras(uplink: Bandwidth(bitsPerSecond: 5e6), downlink: nil)
        #expect(run.workload.cameras == 1 && run.workload.fps == 10 && run.workload.inflight == 4 && run.workload.queue == 16 && run.device.cpu == 2)
        #expect(run.link.uplink == Bandwidth(bitsPerSecond: 20e6) && run.link.downlink == nil && run.link.rtt == config.link.rtt)
        try config.set("placement", "edge")
        #expect(config.aggregatingCameras(uplink: nil, downlink: nil) == config)
        #expect(config.parameters["workload.cameras"] == nil)
    }
}
