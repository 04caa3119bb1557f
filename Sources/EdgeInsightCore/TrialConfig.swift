import Foundation

/// Where each step of an item runs (DESIGN.md).
public enum Placement: String, Sendable, Codable, CaseIterable {
    /// Decode, pre-process and infer on the device.
    case edge
    /// The device sends the camera's JPEG; the cloud decodes, pre-processes and infers.
    case cloudRaw = "cloud-raw"
    /// The device pre-processes and sends the input tensor; the cloud infers.
    case cloudTensor = "cloud-tensor"
    /// The device decodes, resizes to the model's input and re-encodes; the cloud infers.
    case split
    /// The device pre-processes and runs the network up to a cut (`partition.after`); the cloud
    /// runs the rest on the activation it is sent.
    case partition

    public var usesCloud: Bool { self != .edge }
}

/// How a trial's link is shaped: bandwidth in the kernel (tbf in a network namespace) or in the
/// proxy; `auto` takes the kernel when it can.
public enum LinkShaping: String, Sendable, Codable, CaseIterable {
    case auto, kernel, proxy
}

/// How a partition's activation crosses the link: as the network computed it, halved to IEEE
/// half precision, or quantised to 8 bits per element with the tensor's own range (a scale and a
/// zero point computed on the device for every frame, sent beside it).
public enum ActivationEncoding: String, Sendable, Codable, CaseIterable {
    case fp32, fp16, uint8
}

/// How a cloud placement's requests reach the cloud node: OIP over HTTP, or published through an
/// MQTT broker to a consumer that answers on the camera's reply topic.
public enum Transport: String, Sendable, Codable, CaseIterable {
    case http, mqtt
}

/// A trial configuration the values cannot make: one line, naming the setting.
public struct TrialConfigError: Error, CustomStringConvertible, Equatable {
    public var key: String?
    public var message: String
    public var description: String { message }
}

/// Everything one trial is: the model, where it runs, the workload offered, the device, the cloud
/// node, the link between them, the split's settings and the SLO — with every default and check in
/// this one place. Experiment files, the runner, the agent, the results database and predictions
/// all use this value.
///
/// Every setting has a dotted key (`workload.fps`, `device.cpu`, `link.rtt`) and a text form with
/// its unit (`10`, `0.5`, `40ms`), so a sweep can vary any of them; `parameters` and
/// `init(parameters:)` convert, and the Codable form is the same flat map of keys to text.
public struct TrialConfig: Sendable, Equatable, Codable {
    public var model = "mobilenet_v2"
    /// The model input's shape, for a model whose dimensions are dynamic (`1,3,320,320`); nil runs
    /// such a model at the camera's resolution.
    public var modelShape: [Int]?
    public var placement = Placement.edge
    public var workload = Workload()
    public var device = Device()
    public var cloud = Cloud()
    public var link = Link()
    public var split = Split()
    public var partition = Partition()
    public var transport = Transport.http
    public var mqtt = MQTT()
    public var slo = SLO()

    /// The camera and how its frames are offered.
    public struct Workload: Sendable, Equatable {
        public var fps = 10.0
        public var arrivals = ArrivalProcess.Kind.constant
        public var resolution = PixelSize(width: 640, height: 480)
        public var jpegQuality = 80
        public var duration: Duration = .seconds(3)
        /// Keep measuring, a window at a time, until the stability rule holds, up to this long;
        /// nil measures exactly `duration`.
        public var maxDuration: Duration?
        public var warmup: Duration = .seconds(1)
        /// Measurement windows (the stability rule's and the timeline's).
        public var window: Duration = .seconds(1)
        /// Frames that may wait on the device before new ones are dropped.
        public var queue = 4
        /// Requests a cloud placement keeps in flight (1: stop-and-wait).
        public var inflight = 1
        /// Cameras sending to the one cloud node, each like the one described (cloud placements).
        public var cameras = 1
        /// The process of arrivals this workload offers.
        public var arrivalProcess: ArrivalProcess { arrivals.process(rate: fps) }
    }

    /// The edge node: a device profile (profiles/devices.yaml) or an explicit confinement.
    public struct Device: Sendable, Equatable {
        public var profile: String?
        /// The host of the inventory the edge node runs on (a real device); nil: this machine,
        /// emulating the device by confinement.
        public var host: String?
        public var cpu = 1.0
        public var cpuset: String?
        public var memory = Bytes(4_000_000_000)
        public var threads = 1
        /// The inference framework of the edge placement.
        public var engine = EngineKind.openvino
    }

    /// The cloud node: an inference server, confined; or an existing service at `url`.
    public struct Cloud: Sendable, Equatable {
        /// An Open Inference Protocol service already running (Triton, KServe, MLServer, ours):
        /// nothing is started, the frames go to it over the real network.
        public var url: String?
        /// The name the service knows the model by; nil: the zoo's served name of `model`.
        public var model: String?
        /// A file holding the service's bearer token (read by the runner, sent in the node document).
        public var tokenFile: String?
        /// The host of the inventory the cloud node runs on; nil: this machine.
        public var host: String?
        public var cpu = 1.0
        public var cpuset: String?
        public var memory = Bytes(8_000_000_000)
        public var threads = 1
        public var instances = 1
        public var maxBatch = 1
        /// The server's own request threads; nil leaves the server's default.
        public var httpThreads: Int?
        /// The inference framework the cloud node serves with.
        public var engine = EngineKind.openvino
    }

    /// The link: a profile (profiles/links.yaml) and settings that override it.
    public struct Link: Sendable, Equatable {
        public var profile = "ethernet"
        public var uplink: Bandwidth?
        public var downlink: Bandwidth?
        public var rtt: Duration?
        public var jitter: Duration?
        /// Segment loss, overriding the profile's.
        public var loss: LossRate?
        public var shaping = LinkShaping.auto

        /// The overrides of the profile, by the profile's own key names.
        public var overrides: [(key: String, value: String)] {
            [("uplink", uplink?.exactDescription), ("downlink", downlink?.exactDescription), ("rtt", rtt.map(DurationText.exact)),
             ("jitter", jitter.map(DurationText.exact)), ("loss", loss?.exactDescription)].compactMap { key, value in value.map { (key, $0) } }
        }
    }

    /// The split placement's re-encoding on the device.
    public struct Split: Sendable, Equatable {
        public var jpegQuality = 90
    }

    /// The partition placement's cut: the tensor the device's part of the network ends at
    /// (`edgeinsight models inspect MODEL --cuts` lists them).
    public struct Partition: Sendable, Equatable {
        public var after: String?
        public var activation = ActivationEncoding.fp32
    }

    /// The broker path (`transport: mqtt`): a broker the runner starts beside the cloud node, or an
    /// existing one at `url`; the delivery guarantee; how long a frame may wait for its answer.
    public struct MQTT: Sendable, Equatable {
        /// An existing broker (`mqtt://host:1883`, `mqtts://…`); nil: the runner starts Mosquitto.
        public var url: String?
        public var username: String?
        /// A file holding the broker's password (read by the runner, sent in the node documents).
        public var passwordFile: String?
        /// 0: at most once; 1: at least once, with persistent sessions.
        public var qos = 1
        /// A frame with no answer after this long is counted lost.
        public var timeout: Duration = .seconds(10)

        public init() {}
    }

    /// The service-level objective the trial is judged by.
    public struct SLO: Sendable, Equatable {
        public var p99: Duration?
    }

    public init() {}

    /// A configuration from dotted keys and text values over the defaults.
    public init(parameters: [String: String]) throws(TrialConfigError) {
        self.init()
        for key in parameters.keys.sorted() { try set(key, parameters[key]!) }
    }

    // MARK: Settings by key

    /// One setting: its key, how to read it as text and how to set it from text (checked).
    struct Setting {
        let key: String
        let read: (TrialConfig) -> String?
        let write: (inout TrialConfig, String) -> String?   // the problem, or nil when set
        /// Copies the value from one configuration to another (no round trip through text).
        let copy: (inout TrialConfig, TrialConfig) -> Void
    }

    private static func setting<V>(_ key: String, _ path: WritableKeyPath<TrialConfig, V>, _ format: @escaping (V) -> String,
                                   _ parse: @escaping (String) -> V?, _ expect: String) -> Setting {
        Setting(key: key, read: { format($0[keyPath: path]) }, write: { config, text in
            guard let value = parse(text) else { return "'\(key)' \(expect) (got '\(text)')" }
            config[keyPath: path] = value
            return nil
        }, copy: { $0[keyPath: path] = $1[keyPath: path] })
    }

    private static func optional<V>(_ key: String, _ path: WritableKeyPath<TrialConfig, V?>, _ format: @escaping (V) -> String,
                                    _ parse: @escaping (String) -> V?, _ expect: String) -> Setting {
        Setting(key: key, read: { $0[keyPath: path].map(format) }, write: { config, text in
            guard let value = parse(text) else { return "'\(key)' \(expect) (got '\(text)')" }
            config[keyPath: path] = value
            return nil
        }, copy: { $0[keyPath: path] = $1[keyPath: path] })
    }

    private static func integer(_ range: ClosedRange<Int>) -> (String) -> Int? { { Int($0).flatMap { range.contains($0) ? $0 : nil } } }
    private static func inRange(_ range: ClosedRange<Int>) -> String { "must be an integer in \(range.lowerBound)…\(range.upperBound)" }
    /// A number within `range`: what a machine can be asked for (a quota of 1e300 cores, or a
    /// camera at 1e-11 fps, parses but means nothing and once trapped the simulation).
    private static func within(_ range: ClosedRange<Double>) -> (String) -> Double? { { Double($0).flatMap { range.contains($0) ? $0 : nil } } }
    private static func between(_ range: ClosedRange<Double>, _ unit: String = "") -> String {
        "must be a number from \(UnitFormat.plain(range.lowerBound)) to \(UnitFormat.plain(range.upperBound))\(unit)"
    }
    /// A duration within `range`.
    private static func duration(in range: ClosedRange<Duration>) -> (String) -> Duration? { { DurationText.parse($0).flatMap { range.contains($0) ? $0 : nil } } }
    private static func durationBetween(_ range: ClosedRange<Duration>) -> String {
        "must be a duration from \(DurationText.exact(range.lowerBound)) to \(DurationText.exact(range.upperBound)), such as 2s or 40ms"
    }
    private static func text(_ text: String) -> String? { text.isEmpty ? nil : text }
    private static func serviceURL(_ text: String) -> String? {
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host?.isEmpty == false else { return nil }
        return text
    }
    private static func brokerURL(_ text: String) -> String? {
        guard let url = URL(string: text), url.scheme == "mqtt" || url.scheme == "mqtts", url.host?.isEmpty == false else { return nil }
        return text
    }
    private static func number(_ value: Double) -> String { UnitFormat.plain(value) }
    private static func choice<E: RawRepresentable<String> & CaseIterable>(_ type: E.Type) -> String {
        "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))"
    }
    static let rates: ClosedRange<Double> = 0.001...10_000
    static let cores: ClosedRange<Double> = 0.001...1024
    static let measuring: ClosedRange<Duration> = .milliseconds(1) ... .seconds(86_400)
    static let waiting: ClosedRange<Duration> = .zero ... .seconds(3_600)
    static let delays: ClosedRange<Duration> = .zero ... .seconds(60)
    static let latencies: ClosedRange<Duration> = .microseconds(1) ... .seconds(3_600)
    static let answerWait: ClosedRange<Duration> = .milliseconds(10) ... .seconds(600)

    /// Every setting, built once: key paths and closures that are never mutated.
    nonisolated(unsafe) static let settings: [Setting] = makeSettings()
    static let settingIndex = Dictionary(uniqueKeysWithValues: settings.enumerated().map { ($1.key, $0) })

    /// Every setting, in the order documents list them (docs/experiment-reference.md).
    static func makeSettings() -> [Setting] {
        let durationText = DurationText.exact
        return [
            setting("model", \.model, { $0 }, text, "must not be empty"),
            optional("model.shape", \.modelShape, { $0.map(String.init).joined(separator: ",") },
                     { text in let dims = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                         return dims.count == text.split(separator: ",").count && !dims.isEmpty && dims.allSatisfy { $0 > 0 } ? dims : nil },
                     "must be positive dimensions separated by commas, such as 1,3,320,320"),
            setting("placement", \.placement, \.rawValue, Placement.init(rawValue:), choice(Placement.self)),
            setting("workload.fps", \.workload.fps, number, within(rates), between(rates, " frames per second")),
            setting("workload.arrivals", \.workload.arrivals, \.rawValue, { ArrivalProcess.Kind.parse($0)?.kind }, choice(ArrivalProcess.Kind.self)),
            setting("workload.resolution", \.workload.resolution, \.description,
                    { PixelSize(parsing: $0).flatMap { (16...8192).contains($0.width) && (16...8192).contains($0.height) ? $0 : nil } },
                    "must be WIDTHxHEIGHT such as 640x480, each 16…8192"),
            setting("workload.jpeg_quality", \.workload.jpegQuality, String.init, integer(1...100), inRange(1...100)),
            setting("workload.duration", \.workload.duration, durationText, duration(in: measuring), durationBetween(measuring)),
            optional("workload.max_duration", \.workload.maxDuration, durationText, duration(in: measuring), durationBetween(measuring)),
            setting("workload.warmup", \.workload.warmup, durationText, duration(in: waiting), durationBetween(waiting)),
            setting("workload.window", \.workload.window, durationText, duration(in: measuring), durationBetween(measuring)),
            setting("workload.queue", \.workload.queue, String.init, integer(1...10_000), inRange(1...10_000)),
            setting("workload.inflight", \.workload.inflight, String.init, integer(1...1024), inRange(1...1024)),
            setting("workload.cameras", \.workload.cameras, String.init, integer(1...64), inRange(1...64)),
            optional("device.profile", \.device.profile, { $0 }, text, "must not be empty"),
            optional("device.host", \.device.host, { $0 }, text, "must name a host of the inventory"),
            setting("device.cpu", \.device.cpu, number, within(cores), between(cores, " cores")),
            optional("device.cpuset", \.device.cpuset, { $0 }, text, "must not be empty"),
            setting("device.memory", \.device.memory, \.exactDescription, Bytes.init(parsing:), "must be a size such as 1GB"),
            setting("device.threads", \.device.threads, String.init, integer(1...256), inRange(1...256)),
            setting("device.engine", \.device.engine, \.rawValue, EngineKind.init(rawValue:), choice(EngineKind.self)),
            optional("cloud.url", \.cloud.url, { $0 }, serviceURL, "must be an http:// or https:// address such as https://triton.example:8000"),
            optional("cloud.model", \.cloud.model, { $0 }, text, "must not be empty"),
            optional("cloud.token_file", \.cloud.tokenFile, { $0 }, text, "must not be empty"),
            optional("cloud.host", \.cloud.host, { $0 }, text, "must name a host of the inventory"),
            setting("cloud.cpu", \.cloud.cpu, number, within(cores), between(cores, " cores")),
            optional("cloud.cpuset", \.cloud.cpuset, { $0 }, text, "must not be empty"),
            setting("cloud.memory", \.cloud.memory, \.exactDescription, Bytes.init(parsing:), "must be a size such as 1GB"),
            setting("cloud.threads", \.cloud.threads, String.init, integer(1...256), inRange(1...256)),
            setting("cloud.instances", \.cloud.instances, String.init, integer(1...64), inRange(1...64)),
            setting("cloud.engine", \.cloud.engine, \.rawValue, EngineKind.init(rawValue:), choice(EngineKind.self)),
            setting("cloud.max_batch", \.cloud.maxBatch, String.init, integer(0...256), inRange(0...256)),
            optional("cloud.http_threads", \.cloud.httpThreads, String.init, integer(1...64), inRange(1...64)),
            setting("link", \.link.profile, { $0 }, text, "must name a link profile"),
            optional("link.uplink", \.link.uplink, \.exactDescription, Bandwidth.init(parsing:), "must be a rate such as 20mbit"),
            optional("link.downlink", \.link.downlink, \.exactDescription, Bandwidth.init(parsing:), "must be a rate such as 20mbit"),
            optional("link.rtt", \.link.rtt, durationText, duration(in: delays), durationBetween(delays)),
            optional("link.jitter", \.link.jitter, durationText, duration(in: delays), durationBetween(delays)),
            optional("link.loss", \.link.loss, \.exactDescription, LossRate.init(parsing:), "must be a loss rate from 0% to 100% such as 0.5%"),
            setting("link.shaping", \.link.shaping, \.rawValue, LinkShaping.init(rawValue:), choice(LinkShaping.self)),
            setting("split.jpeg_quality", \.split.jpegQuality, String.init, integer(1...100), inRange(1...100)),
            optional("partition.after", \.partition.after, { $0 }, text, "must name a tensor of the model (models inspect MODEL --cuts)"),
            setting("partition.activation", \.partition.activation, \.rawValue, ActivationEncoding.init(rawValue:), choice(ActivationEncoding.self)),
            setting("transport", \.transport, \.rawValue, Transport.init(rawValue:), choice(Transport.self)),
            optional("mqtt.url", \.mqtt.url, { $0 }, brokerURL, "must be a broker address such as mqtt://broker.example:1883"),
            optional("mqtt.username", \.mqtt.username, { $0 }, text, "must not be empty"),
            optional("mqtt.password_file", \.mqtt.passwordFile, { $0 }, text, "must not be empty"),
            setting("mqtt.qos", \.mqtt.qos, String.init, integer(0...1), "must be 0 (at most once) or 1 (at least once)"),
            setting("mqtt.timeout", \.mqtt.timeout, durationText, duration(in: answerWait), durationBetween(answerWait)),
            optional("slo.p99", \.slo.p99, durationText, duration(in: latencies), durationBetween(latencies)),
        ]
    }

    /// Every key a configuration has, in document order.
    public static let keys: [String] = settings.map(\.key)

    /// Sets one setting from its text form, checking the value.
    public mutating func set(_ key: String, _ text: String) throws(TrialConfigError) {
        guard let index = Self.settingIndex[key] else {
            throw TrialConfigError(key: nil, message: "unknown key '\(key)' (known: \(Self.keys.joined(separator: ", ")))")
        }
        // Trimmed by hand: Foundation's trimming is the slow part of reading a large sweep.
        let trimmed = text.first == " " || text.last == " " || text.first == "\t" || text.last == "\t" ? text.trimmingCharacters(in: .whitespaces) : text
        if let problem = Self.settings[index].write(&self, trimmed) { throw TrialConfigError(key: key, message: problem) }
    }

    /// Whether the trial's placement uses a setting: an edge trial has no link, cloud node or
    /// requests in flight; only a split trial re-encodes.
    public func uses(_ key: String) -> Bool {
        if key.hasPrefix("split.") { return placement == .split }
        if key.hasPrefix("partition.") { return placement == .partition }
        if key.hasPrefix("mqtt.") { return transport == .mqtt && startsCloudNode }
        if placement.usesCloud, cloud.url != nil {
            // An existing service: nothing of ours is started or shaped; the network is the real one.
            return !(key == "link" || key.hasPrefix("link.") || key == "transport" || (key.hasPrefix("cloud.") && !["cloud.url", "cloud.model", "cloud.token_file"].contains(key)))
        }
        if key == "cloud.model" || key == "cloud.token_file" { return false }
        if key == "device.engine" { return placement == .edge }
        if !placement.usesCloud {
            return !(key == "link" || key.hasPrefix("link.") || key.hasPrefix("cloud.") || key == "workload.inflight" || key == "workload.cameras" || key == "transport")
        }
        return true
    }

    /// The runner starts a cloud node for it (a cloud placement not sent to an existing service).
    public var startsCloudNode: Bool { placement.usesCloud && cloud.url == nil }

    /// N cameras on one cloud node as the testbed runs them and the model predicts them: one stream
    /// of frames at N times the rate, with N times the requests in flight, the device queue and the
    /// device CPU, over one link of N times the bandwidth (`uplink`, `downlink`: the link's own)
    /// with the same RTT, jitter and loss. The cloud node sees the summed load exactly; the devices
    /// are approximated: N cameras at a constant rate are taken to be evenly out of phase (a
    /// Poisson camera's sum is exactly Poisson), and N links as one N times as wide.
    public func aggregatingCameras(uplink: Bandwidth?, downlink: Bandwidth?) -> TrialConfig {
        let n = workload.cameras
        guard n > 1, placement.usesCloud else { return self }
        var copy = self
        copy.workload.cameras = 1
        copy.workload.fps *= Double(n)
        copy.workload.inflight *= n
        copy.workload.queue *= n
        copy.device.cpu *= Double(n)
        copy.link.uplink = uplink.map { Bandwidth(bitsPerSecond: $0.bitsPerSecond * Double(n)) }
        copy.link.downlink = downlink.map { Bandwidth(bitsPerSecond: $0.bitsPerSecond * Double(n)) }
        return copy
    }

    /// Every setting the placement uses and that has a value, as text: what identifies the trial.
    public var parameters: [String: String] {
        var out: [String: String] = [:]
        for setting in Self.settings where uses(setting.key) { out[setting.key] = setting.read(self) }
        return out
    }

    /// The same configuration without the settings its placement does not use (they return to their
    /// defaults), so two trials that differ only in those compare equal.
    public var normalized: TrialConfig {
        var copy = TrialConfig()
        for setting in Self.settings where uses(setting.key) { setting.copy(&copy, self) }
        return copy
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(parameters)
    }

    public init(from decoder: any Decoder) throws {
        let parameters = try decoder.singleValueContainer().decode([String: String].self)
        do { try self.init(parameters: parameters) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }
}
