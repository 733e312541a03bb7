/// What a live migration costs, from the pre-copy iteration: the first pass sends the guest's
/// memory in use; each later pass resends what was dirtied during the one before; when what
/// is left can be sent within the downtime limit, the guest is paused and the rest sent.
/// Stop-and-copy pauses first and sends everything once.
///
/// Two constants are fitted on measured migrations (`fitted(to:)`): the share of the link's
/// bandwidth a migration stream gets, and the fixed seconds of setup and switch-over.
public struct MigrationCostModel: Sendable, Equatable, Codable {
    /// Share of the link's bandwidth the migration stream reaches (protocol, page headers).
    public var efficiency: Double
    /// Seconds a migration takes beyond sending memory (connection, device state, switch-over).
    public var setupSeconds: Double
    /// Seconds of pause beyond sending the last pass (device state, restart on the target).
    public var switchoverSeconds: Double

    public init(efficiency: Double = 0.9, setupSeconds: Double = 0.1, switchoverSeconds: Double = 0.02) {
        self.efficiency = efficiency
        self.setupSeconds = setupSeconds
        self.switchoverSeconds = switchoverSeconds
    }

    public enum Mode: String, Sendable, Codable, CaseIterable {
        case preCopy = "pre-copy"
        case stopAndCopy = "stop-and-copy"
    }

    /// What is known before a migration.
    public struct Input: Sendable, Equatable, Codable {
        /// Memory the first pass sends, bytes: the guest's pages in use (QEMU skips zero pages).
        public var memoryBytes: Double
        /// Bytes a second the guest dirties, and the size of the memory it dirties (a pass never
        /// resends more than that).
        public var dirtyRate: Double
        public var dirtyWorkingSet: Double
        /// The link's bandwidth, bytes a second.
        public var bandwidth: Double
        /// The most the guest may be paused, seconds.
        public var downtimeLimit: Double
        public var mode: Mode

        public init(memoryBytes: Double, dirtyRate: Double, dirtyWorkingSet: Double, bandwidth: Double, downtimeLimit: Double, mode: Mode) {
            self.memoryBytes = memoryBytes
            self.dirtyRate = dirtyRate
            self.dirtyWorkingSet = dirtyWorkingSet
            self.bandwidth = bandwidth
            self.downtimeLimit = downtimeLimit
            self.mode = mode
        }
    }

    public struct Prediction: Sendable, Equatable, Codable {
        public var seconds: Double
        public var downtimeSeconds: Double
        public var bytes: Double
        /// Pre-copy passes before the pause (0 for stop-and-copy).
        public var passes: Int
        /// False when pre-copy cannot converge: each pass dirties as much as it sends, and the
        /// migration would only end by pausing the guest for longer than the limit.
        public var converges: Bool
    }

    /// Passes at most, as QEMU would go on for ever without auto-converge.
    public static let maximumPasses = 30

    public func predict(_ input: Input) -> Prediction {
        let rate = max(1, input.bandwidth * efficiency)
        switch input.mode {
        case .stopAndCopy:
            let send = input.memoryBytes / rate
            return Prediction(seconds: setupSeconds + send + switchoverSeconds, downtimeSeconds: send + switchoverSeconds,
                              bytes: input.memoryBytes, passes: 0, converges: true)
        case .preCopy:
            var left = input.memoryBytes
            var bytes = 0.0
            var seconds = setupSeconds
            var passes = 0
            while left / rate > input.downtimeLimit, passes < Self.maximumPasses {
                let pass = left / rate
                bytes += left
                seconds += pass
                passes += 1
                let dirtied = min(input.dirtyWorkingSet, input.dirtyRate * pass)
                let shrinking = dirtied < left
                left = dirtied
                if !shrinking, passes > 1 { break }
            }
            let last = left / rate
            return Prediction(seconds: seconds + last + switchoverSeconds, downtimeSeconds: last + switchoverSeconds, bytes: bytes + left,
                              passes: passes, converges: last <= input.downtimeLimit)
        }
    }

    /// A measured migration: what was known before and what happened.
    public struct Observation: Sendable, Equatable, Codable {
        public var input: Input
        public var seconds: Double
        public var downtimeSeconds: Double
        public var bytes: Double
        public init(input: Input, seconds: Double, downtimeSeconds: Double, bytes: Double) {
            self.input = input
            self.seconds = seconds
            self.downtimeSeconds = downtimeSeconds
            self.bytes = bytes
        }
    }

    /// The model whose constants fit `observations` best. Every migration takes setup +
    /// bytes sent / (efficiency × bandwidth) + switch-over, so with three observations or more
    /// whose bytes / bandwidth spread by a tenth of their mean, a least-squares line of seconds on
    /// bytes / bandwidth gives the efficiency (its slope's inverse) and the fixed seconds (its
    /// intercept); with fewer, the efficiency alone is fitted around the fixed seconds as they
    /// are. Switch-over is the median pause beyond the last pass the fitted model predicts.
    /// Observations that are not finite, or sent nothing, are left out; without any the model
    /// is unchanged.
    public func fitted(to observations: [Observation]) -> MigrationCostModel {
        let usable = observations.filter {
            $0.input.bandwidth.isFinite && $0.input.bandwidth > 0 && $0.bytes.isFinite && $0.bytes > 0
                && $0.seconds.isFinite && $0.seconds > 0 && $0.downtimeSeconds.isFinite && $0.downtimeSeconds >= 0
        }
        guard !usable.isEmpty else { return self }
        var model = self
        let xs = usable.map { $0.bytes / $0.input.bandwidth }, ys = usable.map(\.seconds)
        let n = Double(xs.count), mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
        let sxx = zip(xs, xs).map { ($0 - mx) * ($1 - mx) }.reduce(0, +), sxy = zip(xs, ys).map { ($0 - mx) * ($1 - my) }.reduce(0, +)
        var fixed = setupSeconds + switchoverSeconds
        if xs.count >= 3, (sxx / n).squareRoot() >= 0.1 * mx, sxy > 0 {
            model.efficiency = min(1, max(0.05, sxx / sxy))
            fixed = max(0, my - mx / model.efficiency)
        } else {
            let through = zip(xs, ys).map { $0 * max(0, $1 - fixed) }.reduce(0, +)
            let squares = xs.map { $0 * $0 }.reduce(0, +)
            if through > 0, squares > 0 { model.efficiency = min(1, max(0.05, squares / through)) }
        }
        model.switchoverSeconds = 0
        let beyond = usable.map { o -> Double in max(0, o.downtimeSeconds - model.predict(o.input).downtimeSeconds) }.sorted()
        model.switchoverSeconds = min(fixed, beyond[beyond.count / 2])
        model.setupSeconds = fixed - model.switchoverSeconds
        return model
    }
}
