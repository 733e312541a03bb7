import Execution
import Forecasting
import Foundation

/// Every setting of `poolswap serve`, in one place. Precedence: flags, then
/// environment (`POOLSWAP_` + the name in upper snake case, e.g.
/// `POOLSWAP_PORT`), then the JSON file given by `--config`, then these defaults.
public struct ServiceConfiguration: Codable, Sendable, Equatable {
    /// Address to listen on. Loopback by default: expose it on purpose.
    public var host = "127.0.0.1"
    /// TCP port.
    public var port = 8080
    /// SQLite database file (created if missing).
    public var database = "poolswap.sqlite"
    /// PostgreSQL instead of SQLite: `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE` (build with `--traits Postgres`).
    public var postgres: String?
    /// Seconds of pool time between control-loop rounds: the usage grid. 300 s, the trace's interval.
    public var interval = 300

    /// The forecasting engine's settings at this interval.
    public var forecastConfiguration: ForecastConfiguration {
        var engine = ForecastConfiguration()
        engine.interval = interval
        return engine
    }
    /// Replay the bundled trace as a simulated pool (demo); off when you register your own pool.
    public var demo = true
    /// Demo only: wall-clock seconds per round, so a newcomer sees swaps within a minute.
    public var demoRoundSeconds = 2.0
    /// Demo only: the Bitbrains folder replayed (default: the bundled sample).
    public var demoTrace: String?
    /// Slots of history the forecaster holds (the stored samples replayed at start count) before
    /// the loop swaps anything: forecasts need a past. 12 = 1 h.
    public var warmupRounds = 12
    /// Swap automatically every round (otherwise only on `POST /swap_request`).
    public var autoSwap = true
    /// Horizon the loop plans for, in slots (at 300 s: 1, 3 or 6 = 5, 15, 30 minutes; at most
    /// 30 minutes), covered by the first forecast horizon at least as long. 1: a loop that
    /// plans every round needs its allocation to hold until the next one only (in the
    /// closed-loop evaluation, 3 held 27% more cpu slack for 44% fewer short intervals; the
    /// `headroom` buys short intervals far more cheaply).
    public var horizonSlots = 1
    /// Scales the chance of usage above its allocation each SLA tier accepts (10%, 5%, 2.5% for
    /// standard, premium, critical at 1): plans meet demand read at that chance of being
    /// exceeded, and the risk gate holds shrinks that exceed it. Lower is safer and holds more.
    public var riskLevel = 1.0
    /// Rounds the loop plans at: every round (1), or every n-th, n at most 6 (the planning
    /// interval is n slots, counted on the pool clock: 3 plans at :00, :15, :30 and :45). The
    /// loop's plans then cover n slots at least. Samples are taken and swaps verified every
    /// round all the same.
    public var planEveryRounds = 1
    /// Rounds after the one a swap took effect in, during which its instance may grow but not
    /// shrink or move (anti-thrashing: a shrink right after a change is the flapping a cooldown
    /// stops; a grow answers demand). A swap that took something away also locks its instance
    /// until its verification commits. 1: in the closed-loop evaluation, 6 held 13% more cpu
    /// slack and had 10% more short intervals.
    public var cooldownRounds = 1
    /// Largest change per swap and resource: cores, GiB, gpus. 8 cores, 32 GiB, 1 gpu: a burst
    /// is met in a round or two (2 cores took a 10-core burst 5 rounds to meet).
    public var maxChange: [Double] = [8, 32, 1]
    /// Added to every instance's demand, per resource (cores, GiB, gpus): a floor of headroom
    /// above the forecast's quantile. Most instances of a real pool idle near 0, where a few
    /// hundredths of a core cover nearly all of their bursts for next to no slack.
    public var headroom: [Double] = [0.02, 0, 0]
    /// Smallest change worth a swap, per resource: cores, GiB, gpus (0.05 cores, 64 MiB, one
    /// device). The solver's smaller moves are not made: they cost a resize for nothing.
    public var minimumChange: [Double] = [0.05, 0.0625, 1]
    /// Most live migrations per round.
    public var maxMigrations = 1
    /// Cost per unit-slot of allocation above demand (cpu, memory, gpu).
    public var wasteCost: [Double] = [1, 0.125, 8]
    /// Cost per unit-slot of demand above allocation, before the SLA weight.
    public var shortfallCost: [Double] = [10, 1.25, 80]
    /// Cost per unit of change in one swap.
    public var changeCost: [Double] = [0.05, 0.01, 0.5]
    /// Seconds the solver may take per round.
    public var solverSeconds = 2.0
    /// Days of 5-minute samples kept as they came; older ones are downsampled. 28: what a
    /// training reads.
    public var retentionFullDays = 28
    /// Days of samples kept at all (downsampled to hourly means after `retentionFullDays`).
    public var retentionDays = 90
    /// Hours of pool time between trainings of the forecasting networks, run in the background
    /// (0: never train; forecasts then come from the baselines alone).
    public var retrainHours = 24
    /// Hours of samples the pool needs before its first training (a day gives every hour of the day).
    public var firstTrainingHours = 24
    /// Days of the most recent samples a training reads (at most `retentionFullDays` are 5-minute samples).
    public var trainingDays = 28
    /// Windows drawn per training epoch, and epochs: about 75 µs of one core per window and epoch
    /// and resource in a release build, so about 5 minutes of one core per resource. With 28
    /// days, 500,000 × 8 is the least measured to meet every PSF-1 goal (BENCHMARKS.md); 14 days
    /// or 200,000 × 2 miss some.
    public var trainingSamples = 500_000
    public var trainingEpochs = 8
    /// Hours at the end of a training's span (at most a fifth of it) the new network does not
    /// train on: it is scored there against the network in use and installed only when better.
    public var validationHours = 24
    /// Slots of stored samples replayed into the forecaster at start, so that it forecasts from
    /// its history at once (nil: what it keeps, 8 days: 2304 slots at 300 s, 11,520 at 60 s).
    public var warmStartSlots: Int?

    /// What applies the swaps: `simulated` (the demo's trace replay, reacting to allocations),
    /// `cgroup` (child cgroups of `cgroupParent` on this host), `oci` (runc containers under
    /// `ociRoot`), `qemu` (virtual machines on the nodes of `qemu`, resized and live-migrated),
    /// or `none` (instances registered through the API; your platform applies the allocations
    /// Poolswap records). Default: `simulated` in demo mode, else `none`.
    public var driver: String?
    /// qemu: the nodes and the machines (`QEMUSettings`).
    public var qemu: QEMUSettings?
    /// simulated: the file where the simulated hosts keep what they were set to across restarts
    /// (default: the database's path with `.simulated` appended).
    public var simulatedState: String?
    /// cgroup and oci: the parent cgroup whose children are the instances (cgroup), and under
    /// which containers get their cgroups (oci).
    public var cgroupParent = "poolswap"
    /// oci: runc's state directory for Poolswap's containers.
    public var ociRoot = "/run/poolswap/runc"
    /// cgroup and oci: the name of this host's node (default: the host name), and what it keeps
    /// for itself (cores, GiB, gpus).
    public var nodeName: String?
    public var nodeReserve: [Double] = [0.25, 0.5, 0]
    /// cgroup and oci: the node's capacity (cores, GiB, gpus); default this host's cores and
    /// memory. More than the host overcommits CFS quota, which the kernel allows.
    public var nodeCapacity: [Double]?
    /// cgroup and oci: what an instance found there is registered with. Tenant; SLA minimum and
    /// weight; SLA maximum (default: the node's allocatable); the allocation given to a cgroup
    /// found without limits (raised to 1.25 × its working set when that is more).
    public var discoveredTenant = "local"
    public var discoveredMinimum: [Double] = [0.05, 0.0625, 0]
    public var discoveredMaximum: [Double]?
    public var discoveredWeight = 1.0
    public var discoveredAllocation: [Double] = [1, 1, 0]
    /// The risk gates every swap passes before it runs (`RiskPolicy`: chances in 0...1, memory
    /// margins as a fraction and GiB, blast radius in counts, migration limits in ms and s).
    public var risk = RiskPolicy()
    /// When a swap that took something away is rolled back (`VerificationThresholds`: rounds,
    /// cores, counts, percentage points).
    public var verification = VerificationThresholds()
    /// Model cost of one OOM kill, before the SLA weight, in the measured realised benefit.
    public var oomKillCost = 50.0
    /// Model cost of any live migration on top of what its estimated duration and downtime
    /// cost (`MigrationPricing`): the risk of the move itself.
    public var migrationFixedCost = 0.5
    /// Rounds a held swap waits for `POST /swaps/{id}/approve` before it is rejected as
    /// expired; its instance is locked meanwhile. 12 rounds = 1 h.
    public var holdExpiryRounds = 12
    /// Prometheus as the metrics source (`PrometheusSettings`): with driver `none`, each round
    /// pulls the slots that ended from Prometheus instead of waiting for `POST /usage`.
    public var prometheus: PrometheusSettings?
    /// Live rounds: seconds after each slot boundary the round waits, so that samples of the
    /// slot sent at the boundary (agents) or scraped after it (Prometheus) are in. Default: 0
    /// with a driver that samples itself (cgroup, oci), else a fifth of the interval, at most 30.
    public var roundDelaySeconds: Double?
    /// cgroup and oci: read the instances' usage from the driver each round (the default), or
    /// take it only from `POST /usage` (node agents) or Prometheus, the driver applying swaps.
    public var driverSamples = true
    /// The dashboard's evaluation page: the JSON of a `poolswap simulate --json` run, read
    /// when the page is asked for (so a newer run shows without a restart). None by default.
    public var evaluationFile: String?

    public init() {}

    public static let environmentPrefix = "POOLSWAP_"

    /// Defaults, overlaid by the file (if any), then by the environment.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceConfiguration {
        var configuration = ServiceConfiguration()
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigurationError("cannot read the configuration file \(file)")
            }
            do { configuration = try JSONDecoder().decode(ServiceConfiguration.self, from: data) }
            catch let error as DecodingError { throw ConfigurationError("\(file): \(ErrorBodyMiddleware.describe(error))") }
            catch { throw ConfigurationError("\(file): \(error)") }
        }
        try configuration.overlay(environment: environment)
        try configuration.validate()
        return configuration
    }

    mutating func overlay(environment: [String: String]) throws {
        func value<T: LosslessStringConvertible>(_ name: String, _ keyPath: WritableKeyPath<Self, T>) throws {
            let key = Self.environmentPrefix + name
            guard let text = environment[key] else { return }
            guard let parsed = T(text) else { throw ConfigurationError("\(key)=\(text) is not a valid \(T.self)") }
            self[keyPath: keyPath] = parsed
        }
        try value("HOST", \.host)
        try value("PORT", \.port)
        try value("DATABASE", \.database)
        try value("INTERVAL", \.interval)
        try value("DEMO", \.demo)
        try value("DEMO_ROUND_SECONDS", \.demoRoundSeconds)
        try value("WARMUP_ROUNDS", \.warmupRounds)
        try value("AUTO_SWAP", \.autoSwap)
        try value("HORIZON_SLOTS", \.horizonSlots)
        try value("COOLDOWN_ROUNDS", \.cooldownRounds)
        try value("PLAN_EVERY_ROUNDS", \.planEveryRounds)
        try value("RISK_LEVEL", \.riskLevel)
        try value("MAX_MIGRATIONS", \.maxMigrations)
        try value("SOLVER_SECONDS", \.solverSeconds)
        try value("RETRAIN_HOURS", \.retrainHours)
        try value("FIRST_TRAINING_HOURS", \.firstTrainingHours)
        try value("TRAINING_DAYS", \.trainingDays)
        try value("TRAINING_SAMPLES", \.trainingSamples)
        try value("TRAINING_EPOCHS", \.trainingEpochs)
        try value("VALIDATION_HOURS", \.validationHours)
        if let text = environment[Self.environmentPrefix + "WARM_START_SLOTS"] {
            guard let slots = Int(text) else { throw ConfigurationError("\(Self.environmentPrefix)WARM_START_SLOTS=\(text) is not a valid Int") }
            warmStartSlots = slots
        }
        if let trace = environment[Self.environmentPrefix + "DEMO_TRACE"] { demoTrace = trace }
        if let driver = environment[Self.environmentPrefix + "DRIVER"] { self.driver = driver }
        if let name = environment[Self.environmentPrefix + "NODE_NAME"] { nodeName = name }
        try value("CGROUP_PARENT", \.cgroupParent)
        try value("OCI_ROOT", \.ociRoot)
        try value("DRIVER_SAMPLES", \.driverSamples)
        if let url = environment[Self.environmentPrefix + "POSTGRES"] { postgres = url }
        if let url = environment[Self.environmentPrefix + "PROMETHEUS_URL"] {
            if prometheus == nil { prometheus = PrometheusSettings(url: url) } else { prometheus!.url = url }
        }
        if let queries = environment[Self.environmentPrefix + "PROMETHEUS_QUERIES"] {
            guard prometheus != nil else { throw ConfigurationError("POOLSWAP_PROMETHEUS_QUERIES needs POOLSWAP_PROMETHEUS_URL or prometheus.url") }
            prometheus!.queries = queries
        }
        if let text = environment[Self.environmentPrefix + "ROUND_DELAY_SECONDS"] {
            guard let delay = Double(text) else { throw ConfigurationError("POOLSWAP_ROUND_DELAY_SECONDS=\(text) is not a valid Double") }
            roundDelaySeconds = delay
        }
    }

    /// The driver in use: the one named, else `simulated` in demo mode and `none` otherwise.
    public var driverName: String { driver ?? (demo ? "simulated" : "none") }
    /// Whether each round reads usage from the driver (cgroup, oci with `driverSamples`; the
    /// simulated pool always) rather than waiting for it to be pushed or pulled.
    public var samplesFromDriver: Bool { driverName == "simulated" || (["cgroup", "oci", "qemu"].contains(driverName) && driverSamples) }
    /// The wait after a slot boundary before a live round (see `roundDelaySeconds`).
    public var roundDelay: Double {
        roundDelaySeconds ?? (samplesFromDriver ? 0 : min(30, Double(interval) / 5))
    }
    /// Whether `path` names a cgroup below the hierarchy's root: relative, not empty, no `..`.
    static func isRelativeCgroupPath(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && !path.split(separator: "/").contains("..")
    }

    public static let drivers = ["simulated", "cgroup", "oci", "qemu", "none"]

    public func validate() throws {
        guard Self.drivers.contains(driverName) else {
            throw ConfigurationError("driver must be one of \(Self.drivers.joined(separator: ", ")), not \(driverName)")
        }
        guard (driverName == "simulated") == demo else {
            throw ConfigurationError(demo ? "the demo replays a trace through the simulated driver: with driver \(driverName), turn the demo off (--no-demo)"
                                          : "the simulated driver replays a trace: it is the demo (drop --no-demo)")
        }
        if let problem = risk.problem ?? verification.problem ?? prometheus?.problem ?? qemu?.problem { throw ConfigurationError(problem) }
        if driverName == "qemu", qemu == nil { throw ConfigurationError("driver qemu needs the qemu object of the configuration file: its nodes and machines") }
        if prometheus != nil, samplesFromDriver {
            throw ConfigurationError("prometheus is the metrics source when the driver does not sample: driver none, or cgroup, oci and qemu with driverSamples false; the \(driverName) driver samples its instances itself")
        }
        if let delay = roundDelaySeconds, !(delay.isFinite && delay >= 0 && delay < Double(interval)) {
            throw ConfigurationError("roundDelaySeconds must be ≥ 0 and less than the interval (\(interval) s), not \(delay)")
        }
        for (name, vector) in [("nodeReserve", nodeReserve), ("discoveredMinimum", discoveredMinimum), ("discoveredAllocation", discoveredAllocation)]
            + (discoveredMaximum.map { [("discoveredMaximum", $0)] } ?? []) + (nodeCapacity.map { [("nodeCapacity", $0)] } ?? []) {
            guard vector.count == 3, vector.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw ConfigurationError("\(name) needs three finite amounts ≥ 0 (cpu, memory, gpu), not \(vector)")
            }
        }
        guard holdExpiryRounds >= 1 else { throw ConfigurationError("holdExpiryRounds must be ≥ 1, not \(holdExpiryRounds)") }
        for (name, value) in [("discoveredWeight", discoveredWeight), ("oomKillCost", oomKillCost), ("migrationFixedCost", migrationFixedCost)] where !(value.isFinite && value >= 0) {
            throw ConfigurationError("\(name) must be finite and ≥ 0, not \(value)")
        }
        guard Self.isRelativeCgroupPath(cgroupParent) else {
            throw ConfigurationError("cgroupParent must be a relative cgroup path without .., not \(cgroupParent)")
        }
        guard (1...65535).contains(port) else { throw ConfigurationError("port must be 1...65535, not \(port)") }
        guard interval >= 1 else { throw ConfigurationError("interval must be at least 1 second, not \(interval)") }
        let longest = forecastConfiguration.maxHorizon
        guard (1...longest).contains(horizonSlots) else {
            throw ConfigurationError("horizonSlots must be 1...\(longest) (30 minutes of \(interval)-second slots), not \(horizonSlots)")
        }
        guard riskLevel.isFinite, riskLevel > 0, riskLevel <= 2.5 else {
            throw ConfigurationError("riskLevel must be in (0, 2.5] (1 reads each tier's 10%, 5%, 2.5% chance; above 2.5 the gate's holdBelow rejects), not \(riskLevel)")
        }
        guard demoRoundSeconds > 0 else { throw ConfigurationError("demoRoundSeconds must be positive") }
        for (name, vector) in [("maxChange", maxChange), ("minimumChange", minimumChange), ("headroom", headroom), ("wasteCost", wasteCost), ("shortfallCost", shortfallCost), ("changeCost", changeCost)] {
            guard vector.count == 3, vector.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw ConfigurationError("\(name) needs three finite amounts ≥ 0 (cpu, memory, gpu), not \(vector)")
            }
        }
        guard maxMigrations >= 0, cooldownRounds >= 0, warmupRounds >= 0 else {
            throw ConfigurationError("maxMigrations, cooldownRounds and warmupRounds must be ≥ 0")
        }
        guard headroom[2] == headroom[2].rounded() else { throw ConfigurationError("headroom's gpu must be whole devices, not \(headroom[2])") }
        guard (1...6).contains(planEveryRounds) else {
            throw ConfigurationError("planEveryRounds must be 1...6 (a plan's allocations must hold until the next, and the forecast reaches 6 slots), not \(planEveryRounds)")
        }
        guard retentionDays >= retentionFullDays, retentionFullDays >= 1 else {
            throw ConfigurationError("retentionDays must be ≥ retentionFullDays ≥ 1")
        }
        guard retrainHours >= 0, firstTrainingHours >= 0, (warmStartSlots ?? 0) >= 0 else {
            throw ConfigurationError("retrainHours, firstTrainingHours and warmStartSlots must be ≥ 0")
        }
        guard retrainHours <= 8760, firstTrainingHours <= 8760 else {
            throw ConfigurationError("retrainHours and firstTrainingHours must be at most 8760 (a year)")
        }
        guard (1...168).contains(validationHours) else { throw ConfigurationError("validationHours must be 1...168, not \(validationHours)") }
        guard trainingDays >= 1, trainingSamples >= 1, trainingEpochs >= 1 else {
            throw ConfigurationError("trainingDays, trainingSamples and trainingEpochs must be ≥ 1")
        }
        guard trainingDays <= retentionFullDays else {
            throw ConfigurationError("trainingDays (\(trainingDays)) must be at most retentionFullDays (\(retentionFullDays)): older samples are hourly means")
        }
        guard trainingSamples <= 100_000_000, trainingEpochs <= 1000 else {
            throw ConfigurationError("trainingSamples must be at most 100000000 and trainingEpochs at most 1000")
        }
    }
}

extension ServiceConfiguration {
    // Decoding a file: every field optional, defaults for the rest.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Decodable>(_ key: CodingKeys, _ keyPath: WritableKeyPath<Self, T>) throws {
            if let value = try c.decodeIfPresent(T.self, forKey: key) { self[keyPath: keyPath] = value }
        }
        try read(.host, \.host); try read(.port, \.port); try read(.database, \.database)
        try read(.interval, \.interval); try read(.demo, \.demo); try read(.demoRoundSeconds, \.demoRoundSeconds)
        demoTrace = try c.decodeIfPresent(String.self, forKey: .demoTrace)
        postgres = try c.decodeIfPresent(String.self, forKey: .postgres)
        try read(.warmupRounds, \.warmupRounds); try read(.autoSwap, \.autoSwap); try read(.horizonSlots, \.horizonSlots)
        try read(.riskLevel, \.riskLevel); try read(.cooldownRounds, \.cooldownRounds); try read(.planEveryRounds, \.planEveryRounds); try read(.maxChange, \.maxChange); try read(.maxMigrations, \.maxMigrations)
        try read(.minimumChange, \.minimumChange); try read(.headroom, \.headroom)
        try read(.wasteCost, \.wasteCost); try read(.shortfallCost, \.shortfallCost); try read(.changeCost, \.changeCost)
        try read(.solverSeconds, \.solverSeconds)
        try read(.retentionFullDays, \.retentionFullDays); try read(.retentionDays, \.retentionDays)
        try read(.retrainHours, \.retrainHours); try read(.firstTrainingHours, \.firstTrainingHours)
        try read(.trainingDays, \.trainingDays); try read(.trainingSamples, \.trainingSamples)
        // A file that keeps fewer full days than the default training reads (14 was the
        // default) and does not name trainingDays trains on what it keeps.
        if !c.contains(.trainingDays) { trainingDays = min(trainingDays, retentionFullDays) }
        try read(.trainingEpochs, \.trainingEpochs); try read(.warmStartSlots, \.warmStartSlots); try read(.validationHours, \.validationHours)
        driver = try c.decodeIfPresent(String.self, forKey: .driver)
        nodeName = try c.decodeIfPresent(String.self, forKey: .nodeName)
        simulatedState = try c.decodeIfPresent(String.self, forKey: .simulatedState)
        discoveredMaximum = try c.decodeIfPresent([Double].self, forKey: .discoveredMaximum)
        nodeCapacity = try c.decodeIfPresent([Double].self, forKey: .nodeCapacity)
        try read(.cgroupParent, \.cgroupParent); try read(.ociRoot, \.ociRoot); try read(.nodeReserve, \.nodeReserve)
        try read(.discoveredTenant, \.discoveredTenant); try read(.discoveredMinimum, \.discoveredMinimum)
        try read(.discoveredWeight, \.discoveredWeight); try read(.discoveredAllocation, \.discoveredAllocation)
        try read(.risk, \.risk); try read(.verification, \.verification); try read(.oomKillCost, \.oomKillCost)
        try read(.holdExpiryRounds, \.holdExpiryRounds); try read(.migrationFixedCost, \.migrationFixedCost)
        qemu = try c.decodeIfPresent(QEMUSettings.self, forKey: .qemu)
        prometheus = try c.decodeIfPresent(PrometheusSettings.self, forKey: .prometheus)
        roundDelaySeconds = try c.decodeIfPresent(Double.self, forKey: .roundDelaySeconds)
        try read(.driverSamples, \.driverSamples)
        evaluationFile = try c.decodeIfPresent(String.self, forKey: .evaluationFile)
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
