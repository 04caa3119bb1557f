/// How long a job takes under a CFS CPU quota: the node may use `cores` × `period` of CPU time in
/// every period, after which it is throttled until the next one begins. A share of a core is not a
/// slower clock: a job runs at full speed while budget lasts, then waits.
///
/// Model: a job of `work` core-nanoseconds runs on `parallelism` cores at once (its threads, up to
/// the cores it may use), arrives at a uniformly random point of a period with that period's full
/// budget (the device was idle before it), and the budget renews at each period boundary. Its wall
/// time is found by stepping through the periods, averaged over 64 arrival phases. A busy device
/// that starts jobs back to back gets no idle budget: `sustainedNs` is its wall time per job.
public struct CPUQuota: Sendable, Codable, Equatable {
    /// CPU time per period, in cores (0.5 = half a core); nil: unlimited.
    public var cores: Double?
    public var periodNs: Double

    public init(cores: Double?, periodNs: Double) {
        self.cores = cores
        self.periodNs = periodNs
    }

    /// The testbed's period for a quota (Testbed's ControlGroup: 4 ms, longer for small shares so
    /// a period's budget is at least 1 ms).
    public static func testbed(cores: Double) -> CPUQuota {
        CPUQuota(cores: cores, periodNs: max(4e6, (1e6 / cores).rounded(.up)))
    }

    /// Expected wall time of a job that arrives at an idle device.
    public func wallNs(work: Double, parallelism: Double = 1) -> Double {
        let rate = max(1, parallelism)
        guard let cores, cores < rate, work > 0 else { return work / rate }
        let phases = 64
        return (0..<phases).reduce(0) { $0 + wallNs(work: work, rate: rate, budget: cores * periodNs, phase: (Double($1) + 0.5) / Double(phases)) } / Double(phases)
    }

    /// Wall time per job when jobs follow each other with no idle time: the budget, not the phase, sets the pace.
    public func sustainedNs(work: Double, parallelism: Double = 1) -> Double {
        let rate = max(1, parallelism)
        guard let cores, cores < rate else { return work / rate }
        return work / cores
    }

    /// One job from `phase` (0..<1) of a period with a full budget. The quota is below the job's
    /// rate (cores < rate), so every later period runs budget/rate and is throttled for the rest.
    func wallNs(work: Double, rate: Double, budget: Double, phase: Double) -> Double {
        let timeLeft = (1 - phase) * periodNs
        let first = min(timeLeft, budget / rate)
        if work <= first * rate { return work / rate }
        let remaining = work - first * rate
        let fullPeriods = (remaining / budget).rounded(.up) - 1
        return timeLeft + fullPeriods * periodNs + (remaining - fullPeriods * budget) / rate
    }
}

extension CPUQuota {
    /// The quota's budget over time, for a simulation that runs one job after another on the node:
    /// periods start at multiples of the period from time 0, each with a fresh budget; work runs at
    /// `rate` cores while budget lasts, then waits for the next period.
    public struct Clock: Sendable {
        public let quota: CPUQuota
        private var period = -1.0
        private var used = 0.0

        public init(_ quota: CPUQuota) { self.quota = quota }

        /// When `work` core-nanoseconds started at `start` finish, and the budget they use.
        public mutating func finish(start: Double, work: Double, rate: Double) -> Double {
            let rate = max(1, rate)
            guard let cores = quota.cores, cores < rate else { return start + work / rate }
            let p = quota.periodNs, budget = cores * p
            var t = start, remaining = work
            while true {
                let index = (t / p).rounded(.down)
                if index != period { period = index; used = 0 }
                let periodEnd = (index + 1) * p
                let canRun = min(periodEnd - t, max(0, budget - used) / rate)
                if remaining <= canRun * rate {
                    used += remaining
                    return t + remaining / rate
                }
                remaining -= canRun * rate
                // Whole periods at budget/rate each, then the rest in the one after.
                let whole = max(0, (remaining / budget).rounded(.up) - 1)
                t = periodEnd + whole * p
                remaining -= whole * budget
                period = (t / p).rounded(.down)
                used = 0
            }
        }
    }
}
