import Broker
import EdgeInsightCore
import EdgeNode
import Engine
import Foundation
import Link
import ModelZoo
import Profiles
import Results
import Server
import Synchronization

/// Progress of a run, for a progress bar.
public struct RunProgress: Sendable {
    public var done: Int
    public var total: Int
    public var skipped: Int
    public var failed: Int
    public var elapsed: Duration
    /// Estimated time to finish, from the mean time of the trials run so far.
    public var remaining: Duration?
    public var current: String
}

/// How a run goes.
public struct RunOptions: Sendable {
    /// Folder for the results database, node logs and link counters.
    public var out: String
    /// Start over: forget the trials already in the database for this experiment.
    public var fresh = false
    /// The `edgeinsight` binary that nodes run here.
    public var executable: String
    /// Lines for the user about the run's hosts (their checks, the links measured between them).
    public var say: @Sendable (String) -> Void = { _ in }

    public init(out: String, executable: String, fresh: Bool = false) {
        self.out = out
        self.executable = executable
        self.fresh = fresh
    }
}

/// What a run did.
public struct RunOutcome: Sendable {
    public var database: String
    public var runName: String
    public var ran: Int
    public var skipped: Int
    public var failed: Int
    public var interrupted: Bool
    public var trials: [TrialRecord]
}

/// Runs an experiment's trials one after another: for each, starts the cloud node (reused while its
/// settings stay the same), the link and the edge node, waits for the edge node's report, gathers
/// what each process used, stops them, and commits the trial to the results database at once.
/// Finished trials are skipped when the same experiment runs again into the same folder.
public final class Runner: Sendable {
    public let experiment: Experiment
    public let options: RunOptions
    private let stopRequested = Atomic<Bool>(false)

    public init(experiment: Experiment, options: RunOptions) {
        self.experiment = experiment
        self.options = options
    }

    /// Asks the run to stop: the trial in progress is abandoned (not recorded), its nodes stopped.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }
    var stopping: Bool { stopRequested.load(ordering: .relaxed) }

    public func run(progress: @escaping @Sendable (RunProgress) -> Void) throws -> RunOutcome {
        // Every profile a trial will need is checked before the first trial runs.
        try experiment.checkProfiles()
        try FileManager.default.createDirectory(atPath: options.out + "/logs", withIntermediateDirectories: true)
        let cgroupProblem = ControlGroup.unavailableReason()
        let kernelProblem = KernelLink.unavailableReason()
        if cgroupProblem == nil { ControlGroup.removeLeftovers() }
        let database = try ResultsDatabase(path: options.out + "/results.sqlite")
        let specs = experiment.trials()
        let pooled = !experiment.devicePool.isEmpty
        let hosts = RunHosts.check(experiment.lanes.flatMap { lane in specs.map { $0.placed(on: lane) } }, inventory: experiment.hosts,
                                   executable: options.executable, say: options.say)
        defer { hosts.close() }
        // A lane whose host failed its check leaves the pool before the first trial.
        let lanes = experiment.lanes.filter { lane in
            guard pooled, let problem = hosts.problem(lane) else { return true }
            options.say("pool: \(lane.description) left out: \(problem)")
            return false
        }
        let runId = try database.openRun(name: experiment.name, experiment: experiment.path,
                                         environment: HostFacts.gather().environment.merging(hosts.environment) { $1 }, fresh: options.fresh)
        try database.addEnvironment(hosts.environment, run: runId)
        let finished = try database.finishedKeys(run: runId)
        let todo = specs.filter { !finished.contains($0.key) }
        let queue = TrialQueue(todo, total: specs.count, skipped: specs.count - todo.count, progress: progress)
        let context = LaneContext(database: database, runId: runId, hosts: hosts, queue: queue, allSpecs: specs,
                                  cgroupProblem: cgroupProblem, kernelProblem: kernelProblem, pooled: pooled)
        if lanes.count == 1 {
            runLane(lanes[0], context)
        } else {
            Threads.each(lanes) { self.runLane($0, context) }
        }
        if pooled, !stopping {
            // Every lane left the pool: the trials no host took fail, saying why, and are stored so.
            while let (spec, _) = queue.take() {
                let record = TrialRecord(key: spec.key, repetition: spec.repetition, ok: false,
                                         reason: "no host of the pool is left to run it (\(queue.droppedText))", config: spec.config)
                try? queue.commit(record) { try database.record($0, run: runId) }
            }
        }
        // The links between hosts again, to see whether they drifted while the trials ran.
        try? database.addEnvironment(hosts.measureLinks(when: "after"), run: runId)
        let (ran, failed, records) = queue.finish(current: stopping ? "stopped" : "done")
        return RunOutcome(database: database.path, runName: experiment.name, ran: ran, skipped: specs.count - todo.count, failed: failed,
                          interrupted: stopping, trials: records)
    }

    /// What every lane of a run shares.
    struct LaneContext: Sendable {
        let database: ResultsDatabase
        let runId: Int64
        let hosts: RunHosts
        let queue: TrialQueue
        let allSpecs: [TrialSpec]
        let cgroupProblem: String?
        let kernelProblem: String?
        let pooled: Bool
    }

    /// Takes trials off the queue and runs them on the lane's hosts, one at a time, until the queue is
    /// empty, the run stops, or (in a pool) the lane's host dies: then its trial goes back for the others.
    func runLane(_ lane: Lane, _ context: LaneContext) {
        var cloud: CloudNode?
        defer { cloud?.stop() }
        while !stopping, let (spec, number) = context.queue.take() {
            let placed = spec.placed(on: lane)
            context.queue.show(Self.label(placed) + (context.pooled ? " on \(lane.description)" : ""))
            let began = Date()
            var record: TrialRecord
            do {
                let (edge, cloudHost) = try context.hosts.launchers(for: placed.config)
                if placed.config.startsCloudNode {
                    let kernel: Bool
                    switch placed.config.link.shaping {
                    case .kernel:
                        if let problem = context.kernelProblem { throw TestbedError.trialFailed("link.shaping kernel: \(problem)") }
                        kernel = true
                    case .proxy: kernel = false
                    case .auto: kernel = context.kernelProblem == nil
                    }
                    // Kernel shaping is this machine's: between real hosts the network is real.
                    let wanted = CloudNode.settings(placed, models: Self.cloudModels(context.allSpecs),
                                                    kernel: kernel && cloudHost.ssh == nil && edge.ssh == nil)
                    if cloud?.settings != wanted {
                        cloud?.stop()
                        cloud = nil
                        cloud = try CloudNode.start(wanted, launcher: cloudHost, logs: options.out + "/logs/\(Self.logName(lane))", cgroupProblem: context.cgroupProblem)
                    }
                }
                record = try runTrial(placed, number: number, edge: edge, cloud: placed.config.startsCloudNode ? cloud : nil,
                                      cgroupProblem: context.cgroupProblem, hosts: context.hosts)
            } catch {
                if stopping { break }
                // A cloud node that failed once is not trusted for the next trial.
                if let node = cloud, !node.process.isRunning {
                    node.stop()
                    cloud = nil
                }
                // In a pool, a trial that failed because its host went away is not the trial's fault.
                if context.pooled, let problem = context.hosts.recheck(lane) {
                    options.say("pool: \(lane.description) dropped: \(problem); its trials go to the other hosts")
                    context.queue.giveBack(spec, number: number, dropped: "\(lane.description): \(problem)")
                    return
                }
                record = TrialRecord(key: spec.key, repetition: spec.repetition, ok: false, reason: "\(error)", config: placed.config)
            }
            if stopping { break }
            record.startedAt = began
            record.seconds = Date().timeIntervalSince(began)
            do { try context.queue.commit(record) { try context.database.record($0, run: context.runId) } } catch {
                // Not stored is not measured: stop rather than run trials whose results are lost.
                options.say("the results database refused a trial: \(error); stopping")
                requestStop()
            }
        }
    }

    /// A bearer token from its file (`~` expanded, surrounding whitespace dropped).
    static func readToken(_ file: String) throws(TestbedError) -> String {
        let path = (file as NSString).expandingTildeInPath
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .trialFailed("cannot read cloud.token_file \(file)") }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, !token.contains(where: \.isNewline) else { throw .trialFailed("cloud.token_file \(file) must hold one token on one line") }
        return token
    }

    /// The logs folder's name for a lane's cloud node (`.` when the run has one lane here).
    static func logName(_ lane: Lane) -> String { lane.device.map { "lane-\($0)" } ?? "." }

    static func label(_ spec: TrialSpec) -> String {
        let c = spec.config
        let parts = [c.model, c.placement.rawValue] + (c.placement.usesCloud ? [c.link.profile] : []) + ["\(c.workload.resolution) q\(c.workload.jpegQuality)"]
        return parts.joined(separator: " ")
    }

    /// What the run's cloud node serves: each model its trials send to it — for a partition, the
    /// tail of the cut (checked before the run, so the cut exists).
    static func cloudModels(_ specs: [TrialSpec]) -> [String] {
        Array(Set(specs.filter { $0.config.startsCloudNode }.map { spec in
            guard spec.placement == .partition, let after = spec.config.partition.after,
                  let cut = try? ModelCut.files(spec.config.model, after: after, activation: spec.config.partition.activation) else { return spec.config.model }
            return cut.tail
        })).sorted()
    }

    // MARK: One trial

    func runTrial(_ spec: TrialSpec, number: Int, edge: NodeLauncher, cloud: CloudNode?, cgroupProblem: String?, hosts: RunHosts) throws -> TrialRecord {
        // A device profile becomes the limits it stands for; the trial is stored as asked (with
        // those limits) and run as `config`, which several cameras change.
        var config = spec.config
        try DeviceProfile.resolve(&config)
        let asked = config
        var applied = AppliedRecord()   // how the testbed realised the configuration on this machine
        var linkNode: NodeProcess?
        var agentNode: NodeProcess?
        defer {
            agentNode?.stop()
            linkNode?.stop()
        }
        let logs = options.out + "/logs/trial-\(number)"
        var serverURL: String?
        var token: String?
        var broker: MQTTEndpoint?
        applied.host = hosts.describe(edge: edge, cloud: cloud?.launcher)
        if config.placement.usesCloud, let url = config.cloud.url {
            // An existing service: nothing to start or shape; the frames cross the real network.
            serverURL = url
            token = try config.cloud.tokenFile.map(Self.readToken)
            applied.cloudConfinement = "external service \(url) (nothing started)"
            applied.linkShaping = "none: the real network to \(url)"
        } else if let cloud {
            applied.cloudConfinement = cloud.confinement
            let base = try LinkProfiles.loadDefault().profile(named: config.link.profile)
            var profile = try base.overridden(by: config.link)
            if config.workload.cameras > 1 {
                // N cameras run as one stream of their summed load over a link N times as wide.
                config = config.aggregatingCameras(uplink: profile.uplink, downlink: profile.downlink)
                applied.camerasRunAs = "one stream at \(UnitFormat.significant(config.workload.fps)) fps, \(config.workload.inflight) in flight, device CPU \(UnitFormat.significant(config.device.cpu))"
                profile = try base.overridden(by: config.link)
            }
            if let kernelLink = cloud.kernelLink {
                // Bandwidth in the kernel (tbf on the veth), delay, jitter and loss in the proxy.
                cloud.kernelLink = try kernelLink.reshaped(uplink: profile.uplink, downlink: profile.downlink, burst: profile.burst)
                applied.linkShaping = "\(cloud.kernelLink!) + proxy for delay, jitter, loss"
                profile.uplink = nil
                profile.downlink = nil
            } else {
                applied.linkShaping = "proxy (token bucket, delay, jitter, loss)"
            }
            if let real = hosts.measured[RunHosts.linkName(edge, cloud.launcher)] {
                applied.linkShaping! += " over the real link \(RunHosts.linkName(edge, cloud.launcher)) (measured: \(real.description))"
            }
            // The link runs beside the edge node, so what it emulates sits where the device's network would.
            let target = cloud.launcher.ssh == nil && edge.ssh == nil ? cloud.host : cloud.launcher.address
            // Over a broker the link sits between the device and the broker (an existing one where it is).
            var linkTo = "\(target):\(cloud.port)"
            if let path = cloud.broker { linkTo = "\(path.node == nil ? path.target.host : (cloud.launcher.ssh == nil && edge.ssh == nil ? path.target.host : cloud.launcher.address)):\(path.target.port)" }
            let link = try NodeProcess(name: "link", argv: edge.argv(["link", "--config", "-"]), group: nil, logFile: logs + "-link.log",
                                       spec: NodeSpec(node: .link, spec: LinkSpec(to: linkTo, profile: profile, seed: spec.linkSeed)),
                                       remote: edge.ssh)
            linkNode = link
            let ready = try link.waitForReady(timeout: .seconds(10))
            guard let port = ready.port else { throw TestbedError.nodeFailed("the link's ready line has no port") }
            if let path = cloud.broker {
                // Frames through the link to the broker; the model's metadata straight from the cloud node.
                serverURL = "http://\(target):\(cloud.port)"
                broker = MQTTEndpoint(host: "127.0.0.1", port: port, tls: path.credentials.tls, username: path.credentials.username, password: path.credentials.password)
                applied.linkShaping! += "; frames through the broker at \(linkTo) (\(path.node == nil ? "existing" : "started beside the cloud node"), QoS \(config.mqtt.qos))"
            } else {
                serverURL = "http://127.0.0.1:\(port)"
            }
        }

        // The edge node, confined like the device here; on a host of the inventory it is the device.
        let device = config.device
        let confined: AppliedConfinement
        if let ssh = edge.ssh {
            confined = AppliedConfinement(group: nil, mode: "real host \(ssh.host.name), unconfined (\(device.threads) threads)", cpuset: nil)
        } else {
            confined = try AppliedConfinement.apply(name: "edge-\(getpid())-\(number)", Confinement(cpu: device.cpu, cpuset: device.cpuset, memory: device.memory),
                                                    threads: device.threads, cgroupProblem: cgroupProblem)
        }
        applied.deviceConfinement = confined.mode
        let cloudCPUBefore = cloud?.process.cpuSeconds
        let agent = try NodeProcess(name: "edge node", argv: confined.wrap(edge.argv(["agent", "--config", "-"])), group: confined.group,
                                    logFile: logs + "-agent.log", spec: NodeSpec(node: .agent, spec: AgentSpec(config: config, server: serverURL, token: token, broker: broker)),
                                    remote: edge.ssh)
        agentNode = agent
        // The node document is kept beside the logs: what the edge node was told, byte for byte
        // (a token or password excepted: it stays in its file).
        var keptBroker = broker
        if keptBroker?.password != nil { keptBroker?.password = "(from mqtt.password_file)" }
        let kept = token == nil && broker?.password == nil ? agent.document
            : try NodeSpec(node: .agent, spec: AgentSpec(config: config, server: serverURL, token: token.map { _ in "(from cloud.token_file)" }, broker: keptBroker)).encoded()
        try kept.write(to: URL(fileURLWithPath: logs + "-agent-node.json"))
        let budget = config.workload.warmup + max(config.workload.duration, config.workload.maxDuration ?? .zero) + .seconds(120)
        let deadline = MonotonicClock.now() + UInt64(budget.nanoseconds)
        while agent.isRunning {
            if stopping { throw TestbedError.trialFailed("stopped") }
            if MonotonicClock.now() > deadline { throw TestbedError.trialFailed("the edge node did not finish within \(DurationText.format(budget))") }
            usleep(20_000)
        }
        guard agent.succeeded else {
            throw TestbedError.trialFailed("edge node failed (\(agent.endingText)): \(agent.lastErrorLine)")
        }
        let result: AgentReport
        do { result = try agent.finalReport(AgentReport.self) } catch { throw TestbedError.trialFailed("\(error)") }
        try? Data(try JSONEncoder.sorted.encode(result)).write(to: URL(fileURLWithPath: logs + "-agent.json"))
        if result.run.processed == 0, let (reason, count) = result.run.errors.max(by: { $0.value < $1.value }) {
            throw TestbedError.trialFailed("every frame failed (\(count)× \(reason))")
        }
        // What the device's framework applied: the precision OpenVINO chose (bf16 on CPUs with
        // AVX-512 BF16 unless told), threads, and the framework's version.
        if let engine = result.run.applied {
            applied.devicePrecision = engine.precision
            applied.deviceThreads = engine.threads
        }
        applied.deviceEngine = result.engine
        if let times = result.serverTimes, config.cloud.url != nil { applied.cloudConfinement! += "; server-side times \(times)" }
        let cloudCPU = cloudCPUBefore.flatMap { before in cloud?.process.cpuSeconds.map { $0 - before } }
        let cloudRSS = cloud?.process.residentBytes
        linkNode?.stop()
        let counters = try? linkNode?.finalReport(LinkCounters.self)
        linkNode = nil
        let windows = Self.windows(result.run)
        return TrialRecord(key: spec.key, repetition: spec.repetition, ok: true, config: asked, applied: applied,
                           metrics: Self.metrics(result, config: config, windows: windows, cloudCPU: cloudCPU, cloudRSS: cloudRSS?.peak, link: counters,
                                                 proxyShaped: cloud?.kernelLink == nil),
                           stages: result.run.stages.map {
                               StageRow(stage: $0.stage, count: $0.latency.count, meanMs: $0.latency.meanNs / 1e6, p50Ms: $0.latency.p50Ns / 1e6,
                                        p99Ms: $0.latency.p99Ns / 1e6, quantilesMs: $0.quantilesNs?.map { $0 / 1e6 })
                           },
                           windows: windows)
    }

    /// The agent's timeline slices (one per `workload.window`) as windows; a last partial slice is left out.
    static func windows(_ run: EdgePipelineReport) -> [WindowRow] {
        var points = run.timeline
        guard points.count > 1 else { return [] }
        let width = points[1].startSeconds - points[0].startSeconds
        if let last = points.last, last.startSeconds + width > run.durationSeconds + 1e-6 { points.removeLast() }
        return points.enumerated().map { index, point in
            WindowRow(index: index, startSeconds: point.startSeconds, throughput: Double(point.processed) / max(width, 1e-9),
                             p50Ms: point.p50Ms, p99Ms: point.p99Ms, dropped: point.dropped)
        }
    }

    /// The trial's stability rule (`StabilityRule.isSteady`) on its equal windows.
    static func isStable(_ windows: [WindowRow], rule: StabilityRule = StabilityRule()) -> Bool {
        guard windows.count > 1 else { return false }
        let width = windows[1].startSeconds - windows[0].startSeconds
        return rule.isSteady(windows.map { StabilityRule.FrameWindow(frames: Int(($0.throughput * width).rounded()), p50: $0.p50Ms, p99: $0.p99Ms) })
    }

    static func metrics(_ r: AgentReport, config: TrialConfig, windows: [WindowRow], cloudCPU: Double?, cloudRSS: Int64?, link: LinkCounters?,
                        proxyShaped: Bool) -> [MetricValue] {
        let run = r.run
        var m: [MetricValue] = [
            MetricValue(.offeredRate, run.offeredRate), MetricValue(.throughput, run.throughput),
            MetricValue(.framesProcessed, Double(run.processed)), MetricValue(.framesDropped, Double(run.dropped)),
            MetricValue(.framesFailed, Double(run.failed)),
            MetricValue(.latencyMean, run.endToEnd.meanNs / 1e6), MetricValue(.latencyP50, run.endToEnd.p50Ns / 1e6),
            MetricValue(.latencyP90, run.endToEnd.p90Ns / 1e6), MetricValue(.latencyP99, run.endToEnd.p99Ns / 1e6),
            MetricValue(.frameBytes, run.meanFrameBytes),
            MetricValue(.edgeCPUSeconds, r.cpuSeconds), MetricValue(.edgeCPUCores, r.cpuSeconds / max(r.wallSeconds, 1e-9)),
            MetricValue(.edgePeakRSS, Double(r.peakResidentBytes) / 1e6),
        ]
        for stage in run.stages { m.append(MetricValue(.stage(stage.stage), stage.latency.meanNs / 1e6)) }
        if let tensor = r.tensorBytes { m.append(MetricValue(.tensorBytes, Double(tensor))) }
        if config.placement.usesCloud {
            m.append(MetricValue(.requestBytes, r.requestBytesMean))
            if let q = r.serverQueueMsMean { m.append(MetricValue(.serverQueue, q)) }
            if let c = r.serverComputeMsMean { m.append(MetricValue(.serverCompute, c)) }
            if let cloudCPU { m.append(MetricValue(.cloudCPUSeconds, cloudCPU)) }
            if let cloudRSS { m.append(MetricValue(.cloudPeakRSS, Double(cloudRSS) / 1e6)) }
            if let link {
                // The link carried the warm-up too; per-frame figures divide by every request it carried.
                let frames = Double(max(1, r.requestsSent))
                m.append(MetricValue(.uplinkBytesPerFrame, Double(link.uplink.deliveredBytes) / frames))
                m.append(MetricValue(.downlinkBytesPerFrame, Double(link.downlink.deliveredBytes) / frames))
                // With kernel shaping the proxy only sees how fast the socket took the bytes, not the link's rate.
                if proxyShaped { m.append(MetricValue(.uplinkAchieved, link.uplink.achievedBitsPerSecond / 1e6)) }
            }
        }
        if let delivery = r.delivery {
            m += [MetricValue(.framesLost, Double(delivery.lostCount)), MetricValue(.framesLate, Double(delivery.late)),
                  MetricValue(.framesDuplicated, Double(delivery.duplicates)), MetricValue(.brokerDisconnections, Double(delivery.disconnections))]
        }
        m.append(MetricValue(.stable, isStable(windows) ? 1 : 0))
        if let slo = config.slo.p99 {
            m.append(MetricValue(.sloP99Met, run.endToEnd.p99Ns <= slo.nanoseconds && run.processed > 0 ? 1 : 0))
        }
        return m
    }
}

/// The cloud node of a run: one `edgeinsight serve` with every model the sweep sends to the cloud;
/// with kernel shaping it lives in a network namespace behind a veth whose tbf each trial sets.
final class CloudNode {
    struct Settings: Equatable {
        /// The host of the inventory it runs on; nil: this machine.
        var host: String?
        var kernel: Bool
        var models: [String]
        var cpu: Double
        var cpuset: String?
        var memory: Bytes?
        var threads: Int
        var instances: Int
        var maxBatch: Int
        /// The server's own request threads (`serve --http-threads`); nil leaves its default.
        var httpThreads: Int?
        var engine: EngineKind
        /// The broker path (`transport: mqtt`): its settings, the agent's answer timeout left out
        /// (it does not change the cloud node); nil over HTTP.
        var mqtt: TrialConfig.MQTT?
    }

    let settings: Settings
    let process: NodeProcess
    let launcher: NodeLauncher
    let host: String
    let port: Int
    let confinement: String
    var kernelLink: KernelLink?
    /// The broker the cloud node consumes from (`transport: mqtt`).
    let broker: BrokerPath?

    /// The mqtt transport's broker as the run's nodes reach it.
    struct BrokerPath {
        /// The node the run started; nil for an existing broker.
        var node: NodeProcess?
        /// Where the consumer connects (beside the broker).
        var consumer: MQTTEndpoint
        /// Where the edge's link sends the broker path's bytes, as the edge node's host reaches it;
        /// with the credentials the edge node logs in with.
        var target: (host: String, port: Int)
        var credentials: MQTTEndpoint
    }

    init(settings: Settings, process: NodeProcess, launcher: NodeLauncher, host: String, port: Int, confinement: String, kernelLink: KernelLink?,
         broker: BrokerPath? = nil) {
        self.settings = settings
        self.broker = broker
        self.process = process
        self.launcher = launcher
        self.host = host
        self.port = port
        self.confinement = confinement
        self.kernelLink = kernelLink
    }

    func stop() {
        process.stop()
        broker?.node?.stop()
        kernelLink?.remove()
    }

    static func settings(_ spec: TrialSpec, models: [String], kernel: Bool) -> Settings {
        let cloud = spec.config.cloud
        return Settings(host: cloud.host, kernel: kernel, models: models, cpu: cloud.cpu, cpuset: cloud.cpuset, memory: cloud.memory, threads: cloud.threads,
                        instances: cloud.instances, maxBatch: cloud.maxBatch, httpThreads: cloud.httpThreads, engine: cloud.engine,
                        mqtt: spec.config.transport == .mqtt ? { var mqtt = spec.config.mqtt; mqtt.timeout = TrialConfig.MQTT().timeout; return mqtt }() : nil)
    }

    static func start(_ settings: Settings, launcher: NodeLauncher, logs: String, cgroupProblem: String?) throws -> CloudNode {
        let confined: AppliedConfinement
        if let ssh = launcher.ssh {
            confined = AppliedConfinement(group: nil, mode: "real host \(ssh.host.name), unconfined (\(settings.threads) threads)", cpuset: nil)
        } else {
            confined = try AppliedConfinement.apply(name: "cloud-\(getpid())-\(Int.random(in: 0..<1_000_000))",
                                                    Confinement(cpu: settings.cpu, cpuset: settings.cpuset, memory: settings.memory),
                                                    threads: settings.threads, cgroupProblem: cgroupProblem)
        }
        var kernelLink: KernelLink?
        if settings.kernel {
            guard let index = KernelLink.freeIndex(preferred: Int(getpid()) % 251) else { throw TestbedError.nodeFailed("no free network namespace index") }
            kernelLink = try KernelLink.create(index: index, uplink: nil, downlink: nil)
        }
        // On a host of the inventory it listens on every address: the edge's link reaches it at the inventory's one.
        let host = launcher.ssh != nil ? "0.0.0.0" : kernelLink?.peerAddress ?? "127.0.0.1"
        var serve = ServeSpec()
        serve.models = settings.models
        serve.host = host
        serve.port = 0
        serve.instances = settings.instances
        serve.maxBatch = settings.maxBatch
        serve.threads = settings.threads
        serve.hint = .latency
        serve.engine = settings.engine
        serve.httpThreads = settings.httpThreads
        var broker: BrokerPath?
        do {
            if let mqtt = settings.mqtt {
                broker = try startBroker(mqtt, cloudHost: host, launcher: launcher, kernelLink: kernelLink, cpuset: settings.cpuset, logs: logs, cgroupProblem: cgroupProblem)
                // A consumer id of this run's own: a later run must not inherit this one's queue.
                serve.mqtt = BrokerSubscription(endpoint: broker!.consumer, qos: mqtt.qos, consumerID: "edgeinsight-consumer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            }
        } catch {
            kernelLink?.remove()
            throw error
        }
        var argv = confined.wrap(launcher.argv(["serve", "--config", "-"]))
        if let kernelLink { argv = kernelLink.command(argv) }
        let process: NodeProcess
        do {
            process = try NodeProcess(name: "cloud node", argv: argv, group: confined.group, logFile: logs + "/cloud-node.log",
                                      spec: NodeSpec(node: .serve, spec: serve), remote: launcher.ssh)
        } catch {
            broker?.node?.stop()
            kernelLink?.remove()
            throw error
        }
        do {
            let ready = try process.waitForReady(timeout: .seconds(120))
            guard let port = ready.port else { throw TestbedError.nodeFailed("the cloud node's ready line has no port") }
            return CloudNode(settings: settings, process: process, launcher: launcher, host: host, port: port, confinement: confined.mode, kernelLink: kernelLink,
                             broker: broker)
        } catch {
            process.stop()
            broker?.node?.stop()
            kernelLink?.remove()
            throw error
        }
    }

    /// The broker of the mqtt transport: an existing one (`mqtt.url`), or a Mosquitto node started
    /// where the cloud node runs (its network namespace, its host), on the cloud node's cores but
    /// without its quota — a broker beside the server, as deployments run it.
    static func startBroker(_ mqtt: TrialConfig.MQTT, cloudHost: String, launcher: NodeLauncher, kernelLink: KernelLink?, cpuset: String?,
                            logs: String, cgroupProblem: String?) throws -> BrokerPath {
        let password = try mqtt.passwordFile.map { file -> String in
            do { return try Runner.readToken(file) } catch { throw TestbedError.trialFailed("mqtt.password_file: \(error)") }
        }
        if let url = mqtt.url {
            var endpoint: MQTTEndpoint
            do { endpoint = try MQTTEndpoint(parsing: url) } catch { throw TestbedError.trialFailed("mqtt.url: \(error)") }
            endpoint.username = mqtt.username ?? endpoint.username
            endpoint.password = password
            return BrokerPath(node: nil, consumer: endpoint, target: (endpoint.host, endpoint.port), credentials: endpoint)
        }
        let confined: AppliedConfinement
        if launcher.ssh != nil {
            confined = AppliedConfinement(group: nil, mode: "real host", cpuset: nil)
        } else {
            confined = try AppliedConfinement.apply(name: "broker-\(getpid())-\(Int.random(in: 0..<1_000_000))", Confinement(cpuset: cpuset),
                                                    threads: 1, cgroupProblem: cgroupProblem)
        }
        var argv = confined.wrap(launcher.argv(["broker", "--config", "-"]))
        if let kernelLink { argv = kernelLink.command(argv) }
        // Its files on its own host: the logs folder here, a temporary one there.
        let folder = launcher.ssh == nil ? logs + "/broker-\(Int.random(in: 0..<1_000_000))" : "/tmp/edgeinsight-broker-\(UInt32.random(in: 0...UInt32.max))"
        let node = try NodeProcess(name: "broker", argv: argv, group: confined.group, logFile: logs + "/broker-node.log",
                                   spec: NodeSpec(node: .broker, spec: MosquittoBroker.Settings(folder: folder, host: cloudHost, port: 0)), remote: launcher.ssh)
        do {
            let ready = try node.waitForReady(timeout: .seconds(30))
            guard let port = ready.port else { throw TestbedError.nodeFailed("the broker's ready line has no port") }
            let local = cloudHost == "0.0.0.0" ? "127.0.0.1" : cloudHost
            return BrokerPath(node: node, consumer: MQTTEndpoint(host: local, port: port),
                              target: (launcher.ssh == nil ? local : launcher.address, port),
                              credentials: MQTTEndpoint(host: local, port: port))
        } catch {
            node.stop()
            throw error
        }
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys: the same value, the same bytes.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
