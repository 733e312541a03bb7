import PoolCore

/// The control files of one cgroup: its directory in the cpu, cpuacct and memory hierarchies
/// (one directory for all three under v2). Reads the allocation and the signals, and writes
/// limits, for the cgroup driver and for containers whose cgroup runc made.
struct CgroupDirectory: Sendable {
    var version: CgroupLayout.Version
    var cpu: String
    var cpuacct: String
    var memory: String

    /// CFS period written with every quota, microseconds (the kernel's default, 100 ms).
    static let period: Int64 = 100_000
    /// The smallest quota the kernel takes, microseconds (1 ms per period: 0.01 cores).
    static let minimumQuota: Int64 = 1_000
    static let pageSize: Int64 = 4_096
    static let gibibyte = 1_073_741_824.0

    // MARK: Allocation

    /// The limits in effect; `.infinity` where there is none.
    func allocation() throws(DriverError) -> ResourceVector {
        var gibibytes = Double.infinity
        switch version {
        case .v1:
            if let limit = try ControlFiles.integer(memory + "/memory.limit_in_bytes"), limit < Int64(1) << 62 {
                gibibytes = Double(limit) / Self.gibibyte
            }
        case .v2:
            if let limit = try ControlFiles.integer(memory + "/memory.max") { gibibytes = Double(limit) / Self.gibibyte }
        }
        return ResourceVector(cpu: try cores(), memory: gibibytes, gpu: 0)
    }

    /// The CPU quota in effect, cores; `.infinity` where there is none.
    func cores() throws(DriverError) -> Double {
        switch version {
        case .v1:
            if let quota = try ControlFiles.integer(cpu + "/cpu.cfs_quota_us"),
               let period = try ControlFiles.integer(cpu + "/cpu.cfs_period_us"), period > 0 {
                return Double(quota) / Double(period)
            }
        case .v2:
            let words = try ControlFiles.read(cpu + "/cpu.max").split(whereSeparator: { $0 == " " || $0 == "\n" })
            if words.count >= 2, let quota = Double(words[0]), let period = Double(words[1]), period > 0 { return quota / period }
        }
        return .infinity
    }

    /// Checks `allocation` for instance `id`: no gpu, amounts at least 0, memory not below the
    /// working set when it shrinks. Returns the allocation in effect now.
    func check(_ allocation: ResourceVector, id: InstanceID) throws(DriverError) -> ResourceVector {
        guard allocation.gpu == 0 else { throw .refused(id, "a cgroup has no gpu to allocate (asked for \(formatAmount(allocation.gpu)))") }
        guard !allocation.cpu.isNaN, allocation.cpu >= 0, !allocation.memory.isNaN, allocation.memory >= 0 else {
            throw .refused(id, "allocation \(allocation) is not an amount of at least 0")
        }
        let current = try self.allocation()
        if allocation.memory < current.memory {
            let workingSet = try memoryFigures().workingSet
            if allocation.memory < workingSet {
                throw .refused(id, "memory \(formatAmount(allocation.memory)) GiB is below the working set of \(formatAmount(workingSet)) GiB: the kernel would OOM-kill")
            }
        }
        return current
    }

    /// Writes the cpu quota and the memory limit of `allocation`; refused, the previous
    /// allocation stays in effect.
    func apply(_ allocation: ResourceVector, id: InstanceID) throws(DriverError) {
        let current = try check(allocation, id: id)
        if allocation.cpu != current.cpu { try writeCPU(allocation.cpu) }
        if allocation.memory != current.memory {
            do {
                try writeMemory(allocation.memory)
            } catch {
                try? writeCPU(current.cpu)
                throw .refused(id, "memory limit \(formatAmount(allocation.memory)) GiB: \(error)")
            }
        }
    }

    /// The quota for `cores` (nil: unlimited), at least the kernel's minimum.
    static func quota(_ cores: Double) -> Int64? {
        guard cores.isFinite else { return nil }
        return max(minimumQuota, Int64((cores * Double(period)).rounded()))
    }

    /// Bytes for `gibibytes` (nil: unlimited), rounded down to whole pages, the kernel's unit.
    static func limitBytes(_ gibibytes: Double) -> Int64? {
        guard gibibytes.isFinite, gibibytes * gibibyte < Double(Int64(1) << 62) else { return nil }
        return max(pageSize, Int64(gibibytes * gibibyte) / pageSize * pageSize)
    }

    func writeCPU(_ cores: Double) throws(DriverError) {
        let quota = Self.quota(cores)
        switch version {
        case .v1:
            if try ControlFiles.integer(cpu + "/cpu.cfs_period_us") != Self.period {
                try ControlFiles.write("\(Self.period)", to: cpu + "/cpu.cfs_period_us")
            }
            try ControlFiles.write(quota.map { "\($0)" } ?? "-1", to: cpu + "/cpu.cfs_quota_us")
        case .v2:
            try ControlFiles.write("\(quota.map { "\($0)" } ?? "max") \(Self.period)", to: cpu + "/cpu.max")
        }
    }

    private func writeMemory(_ gibibytes: Double) throws(DriverError) {
        let bytes = Self.limitBytes(gibibytes)
        switch version {
        case .v1: try ControlFiles.write(bytes.map { "\($0)" } ?? "-1", to: memory + "/memory.limit_in_bytes")
        case .v2: try ControlFiles.write(bytes.map { "\($0)" } ?? "max", to: memory + "/memory.max")
        }
    }

    // MARK: Signals

    /// Memory charged and working set (charge less inactive file cache), GiB.
    func memoryFigures() throws(DriverError) -> (usage: Double, workingSet: Double) {
        let usage: Int64
        let inactive: Int64
        switch version {
        case .v1:
            usage = try ControlFiles.integer(memory + "/memory.usage_in_bytes") ?? 0
            inactive = try ControlFiles.keyed(memory + "/memory.stat")["total_inactive_file"] ?? 0
        case .v2:
            usage = try ControlFiles.integer(memory + "/memory.current") ?? 0
            inactive = try ControlFiles.keyed(memory + "/memory.stat")["inactive_file"] ?? 0
        }
        return (Double(usage) / Self.gibibyte, Double(max(0, usage - inactive)) / Self.gibibyte)
    }

    /// Processes killed for memory so far.
    func oomKills() throws(DriverError) -> Int {
        switch version {
        case .v1: Int(try ControlFiles.keyed(memory + "/memory.oom_control")["oom_kill"] ?? 0)
        case .v2: Int(try ControlFiles.keyed(memory + "/memory.events")["oom_kill"] ?? 0)
        }
    }

    func signals() throws(DriverError) -> InstanceSignals {
        let time = ControlFiles.monotonicSeconds()
        let figures = try memoryFigures()
        let procs = try ControlFiles.read(memory + "/cgroup.procs")
        var signals = InstanceSignals(time: time, memory: figures.usage, workingSet: figures.workingSet,
                                      oomKills: try oomKills(), healthy: procs.contains(where: \.isNumber))
        try readCPU(into: &signals)
        switch version {
        case .v1:
            signals.memoryFailures = Int(try ControlFiles.integer(memory + "/memory.failcnt") ?? 0)
        case .v2:
            signals.memoryFailures = Int(try ControlFiles.keyed(memory + "/memory.events")["max"] ?? 0)
            signals.memoryPressure = (try? ControlFiles.read(memory + "/memory.pressure")).flatMap(Self.pressure)
            signals.cpuPressure = (try? ControlFiles.read(cpu + "/cpu.pressure")).flatMap(Self.pressure)
        }
        return signals
    }

    /// CPU used and throttled so far.
    func readCPU(into signals: inout InstanceSignals) throws(DriverError) {
        let stat = try ControlFiles.keyed(cpu + "/cpu.stat")
        switch version {
        case .v1:
            signals.cpuSeconds = Double(try ControlFiles.integer(cpuacct + "/cpuacct.usage") ?? 0) * 1e-9
            signals.throttledSeconds = Double(stat["throttled_time"] ?? 0) * 1e-9
        case .v2:
            signals.cpuSeconds = Double(stat["usage_usec"] ?? 0) * 1e-6
            signals.throttledSeconds = Double(stat["throttled_usec"] ?? 0) * 1e-6
        }
        signals.throttledPeriods = Int(stat["nr_throttled"] ?? 0)
    }

    /// `avg10` of the `some` line of a PSI file, percent.
    static func pressure(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("some ") {
            for field in line.split(separator: " ") where field.hasPrefix("avg10=") { return Double(field.dropFirst(6)) }
        }
        return nil
    }
}
