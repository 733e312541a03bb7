#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PoolCore

/// One live migration as the QEMU driver ran it: what the cost model predicted and what QEMU
/// measured. Appended to `<runDirectory>/migrations.jsonl`.
public struct QEMUMigrationRecord: Sendable, Equatable, Codable {
    public var instance: InstanceID
    public var from: NodeID
    public var to: NodeID
    public var input: MigrationCostModel.Input
    public var predicted: MigrationCostModel.Prediction
    /// Measured: wall seconds from starting the target to the guest running there, seconds
    /// paused, memory bytes sent (QEMU's `ram.transferred`).
    public var seconds: Double
    public var downtimeSeconds: Double
    public var bytes: Double
    /// `completed`, or why the migration was undone and the guest left on the source.
    public var outcome: String
}

extension QEMUDriver {
    /// The file the migrations are recorded in.
    public var migrationLog: String { runDirectory + "/migrations.jsonl" }

    /// Records of the migrations run so far, oldest first.
    public func migrationRecords() -> [QEMUMigrationRecord] {
        guard let text = try? ControlFiles.read(migrationLog) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(QEMUMigrationRecord.self, from: Data($0.utf8)) }
    }

    /// The cost model fitted on the migrations that completed.
    public func costModel() -> MigrationCostModel {
        let done = migrationRecords().filter { $0.outcome == "completed" }
        return MigrationCostModel().fitted(to: done.map { .init(input: $0.input, seconds: $0.seconds, downtimeSeconds: $0.downtimeSeconds, bytes: $0.bytes) })
    }

    /// What moving `id` to `target` would take now: the guest's memory in use and dirty rate
    /// measured (`calc-dirty-rate` by page sampling, one second: its dirty-bitmap mode crashes
    /// QEMU 7.2 under TCG), the link's bandwidth, the fitted model.
    public func migrationInput(of id: InstanceID, to target: NodeID) async throws(DriverError) -> MigrationCostModel.Input {
        let machine = try machine(id)
        let source = try location(id)
        let used = try await guestMemory(id, on: source).used * 1_073_741_824
        let rate = try await qmp(id, on: source, timeout: 10) { client throws(QMPError) -> Double in
            // The most pages QEMU samples (4096 a GiB): 512 gave a 256 MiB guest 2 MiB/s steps.
            try client.execute("calc-dirty-rate", ["calc-time": 1, "sample-pages": 4096])
            let deadline = QMPClient.now() + 10
            while QMPClient.now() < deadline {
                usleep(200_000)
                let answer = try client.execute("query-dirty-rate")
                if answer["status"]?.string == "measured" { return (answer["dirty-rate"]?.double ?? 0) * 1_048_576 }
            }
            return -1
        }
        guard rate >= 0 else { throw .refused(id, "calc-dirty-rate gave no figure within 10 s") }
        let input = MigrationCostModel.Input(memoryBytes: used, dirtyRate: rate, dirtyWorkingSet: used, bandwidth: try linkBandwidth(source, target),
                                             downtimeLimit: downtimeLimit, mode: machine.migration ?? .preCopy)
        measuredInputs.withLock { $0[id] = (QMPClient.now(), input) }
        return input
    }

    public func migrationEstimate(of id: InstanceID, to node: NodeID) async -> MigrationEstimate? {
        await migrationEstimates(of: id, to: [node])[0]
    }

    /// One dirty-rate measurement for all the targets (or the one of the last 30 s); each
    /// predicted with its link's bandwidth and in the mode `migrate` would run. None while a
    /// resize or migration holds the machine: its QMP is theirs.
    public func migrationEstimates(of id: InstanceID, to targets: [NodeID]) async -> [MigrationEstimate?] {
        var estimates = [MigrationEstimate?](repeating: nil, count: targets.count)
        guard !isBusy(id), let source = try? location(id) else { return estimates }
        let reachable = targets.indices.filter { targets[$0] != source && (try? node(targets[$0])) != nil }
        guard let first = reachable.first else { return estimates }
        var input: MigrationCostModel.Input
        let now = QMPClient.now()
        if let last = measuredInputs.withLock({ $0[id] }), now - last.time < Self.estimateReuseSeconds {
            input = last.input
        } else {
            guard let fresh = try? await migrationInput(of: id, to: targets[first]) else { return estimates }
            input = fresh
        }
        let model = costModel(), asked = input.mode
        for k in reachable {
            guard let bandwidth = try? linkBandwidth(source, targets[k]) else { continue }
            input.bandwidth = bandwidth
            input.mode = asked
            input.mode = mode(of: input, model: model)
            let predicted = model.predict(input)
            estimates[k] = MigrationEstimate(seconds: predicted.seconds, downtimeMilliseconds: predicted.downtimeSeconds * 1_000,
                                             transferred: predicted.bytes / 1_073_741_824)
        }
        return estimates
    }

    /// The machine's own mode, except that a pre-copy the model says cannot converge runs as
    /// stop-and-copy.
    func mode(of input: MigrationCostModel.Input, model: MigrationCostModel) -> MigrationCostModel.Mode {
        input.mode == .preCopy && !model.predict(input).converges ? .stopAndCopy : input.mode
    }

    /// Bytes a second a migration from `source` to `target` can use: the slower end's link.
    func linkBandwidth(_ source: NodeID, _ target: NodeID) throws(DriverError) -> Double {
        min(try node(source).bandwidth ?? 1_073_741_824, try node(target).bandwidth ?? 1_073_741_824)
    }

    public func migrate(_ id: InstanceID, to node: NodeID) async throws(DriverError) {
        _ = try await migrate(id, to: node, afterSwitchover: nil)
    }

    /// Moves `id` to `target` while it runs and returns the record. The guest's memory stays on
    /// the source until the target has passed its health check (QEMU process alive, machine
    /// running, fresh heartbeats from the guest there); a target that fails it, or any failure
    /// before the commit, kills the target and resumes the source, and the migration is refused.
    /// A pre-copy the model says cannot converge runs as stop-and-copy. `afterSwitchover` runs
    /// once the target has the guest, before the check: tests break the target there.
    public func migrate(_ id: InstanceID, to target: NodeID,
                        afterSwitchover: (@Sendable (_ qmpSocket: String, _ pid: pid_t) async -> Void)?) async throws(DriverError) -> QEMUMigrationRecord {
        let machine = try machine(id)
        let source = try location(id)
        guard source != target else { throw .refused(id, "already on \(target)") }
        let destination = try node(target)
        guard pid(id, on: source) != nil else { throw .unknownInstance(id) }
        guard pid(id, on: target) == nil else { throw .refused(id, "a QEMU of it already runs on \(target)") }
        // Claimed before the first wait: a second migration or a resize is refused meanwhile.
        try claim(id, for: "a migration")
        defer { release(id) }
        guard !ControlFiles.exists(migrationMarker(id)) else { throw .refused(id, "a migration of it is under way") }
        var input = try await migrationInput(of: id, to: target)
        let model = costModel()
        input.mode = mode(of: input, model: model)
        let predicted = model.predict(input)
        let allocation = try await allocation(of: id)
        let plugged = try await vcpuThreads(id, on: source).keys.filter { $0 >= machine.cpus }.sorted()
        try writeAtomically(target.rawValue, to: migrationMarker(id))
        var record = QEMUMigrationRecord(instance: id, from: source, to: target, input: input, predicted: predicted, seconds: 0,
                                         downtimeSeconds: 0, bytes: 0, outcome: "completed")
        do throws(DriverError) {
            try await stream(id, machine: machine, from: source, to: destination, input: input, predicted: predicted,
                             plugged: plugged, record: &record)
            if let afterSwitchover, let pid = pid(id, on: target) { await afterSwitchover(qmpSocket(id, on: target), pid) }
            if let why = await targetFailure(id, on: target, limits: allocation) { throw DriverError.refused(id, why) }
            guard pid(id, on: source) != nil || pid(id, on: target) != nil else { throw DriverError.refused(id, "no QEMU of it is left") }
            // The commit point: the node file names the target. The marker goes last, so that a
            // crash before it is rolled forward by `recoverMigrations`.
            try writeAtomically(target.rawValue, to: directory(id) + "/node")
        } catch {
            let why: String
            if case .refused(_, let reason) = error { why = reason } else { why = error.description }
            let resumed = await rollBack(id, source: source, target: target)
            record.outcome = "rolled back: \(why)"
            appendRecord(record)
            unlink(migrationMarker(id))
            throw .refused(id, "the migration to \(target) was undone, \(resumed): \(why)")
        }
        _ = await discard(id, on: source)
        appendRecord(record)
        unlink(migrationMarker(id))
        return record
    }

    /// Starts the target and streams the guest to it; fills in what was measured. Seconds run
    /// from starting the target QEMU to the guest running there; downtime is QEMU's own figure
    /// for pre-copy (source paused to target started) and, for stop-and-copy, from the `stop`
    /// to the target running.
    func stream(_ id: InstanceID, machine: QEMUMachine, from source: NodeID, to destination: QEMUNode,
                input: MigrationCostModel.Input, predicted: MigrationCostModel.Prediction, plugged: [Int],
                record: inout QEMUMigrationRecord) async throws(DriverError) {
        let target = destination.id
        let started = QMPClient.now()
        try await launch(machine, node: destination, incoming: true, pluggedSockets: plugged)
        let address = destination.address.contains(":") ? "[\(destination.address)]" : destination.address
        let endpoint = try await qmp(id, on: target) { client throws(QMPError) -> String? in
            try client.execute("migrate-incoming", ["uri": .string("tcp:\(address):0")])
            guard let port = try client.execute("query-migrate")["socket-address"]?.array?.first?["port"]?.string else { return nil }
            return "tcp:\(address):\(port)"
        }
        guard let endpoint else { throw .refused(id, "the target on \(target) names no port it listens on") }
        let mode = input.mode
        let limit = Int64((downtimeLimit * 1_000).rounded())
        let bandwidth = Int64(min(input.bandwidth * 4, 1e15).rounded())
        let deadline = max(60, 3 * predicted.seconds)
        let measured = try await qmp(id, on: source, timeout: 10) { client throws(QMPError) -> (downtime: Double, bytes: Double, paused: Double) in
            try client.execute("migrate-set-parameters", ["downtime-limit": .integer(limit), "max-bandwidth": .integer(bandwidth)])
            var paused = 0.0
            if mode == .stopAndCopy {
                try client.execute("stop")
                paused = QMPClient.now()
            }
            try client.execute("migrate", ["uri": .string(endpoint)])
            let end = QMPClient.now() + deadline
            while QMPClient.now() < end {
                let state = try client.execute("query-migrate")
                switch state["status"]?.string ?? "" {
                case "completed":
                    return ((state["downtime"]?.double ?? 0) / 1_000, state["ram"]?["transferred"]?.double ?? 0, paused)
                case "failed", "cancelled":
                    throw QMPError.command(client.path, "migrate", errorClass: "MigrationFailed", state["error-desc"]?.string ?? "status \(state["status"]?.string ?? "?")")
                default:
                    usleep(50_000)
                }
            }
            try? client.execute("migrate_cancel")
            throw QMPError.timeout(client.path, "migration to complete", seconds: deadline)
        }
        record.bytes = measured.bytes
        record.downtimeSeconds = measured.downtime
        // The target runs once its state is loaded; a stopped guest's target waits for `cont`.
        guard await resume(id, on: target, from: ["paused"], tries: 400, every: .milliseconds(25)) else { throw .refused(id, "the target on \(target) did not start running within 10 s of the copy") }
        record.seconds = QMPClient.now() - started
        if mode == .stopAndCopy { record.downtimeSeconds = QMPClient.now() - measured.paused }
    }

    /// Kills the target, cancels a stream still under way and resumes the source; says where
    /// the guest runs after it.
    func rollBack(_ id: InstanceID, source: NodeID, target: NodeID) async -> String {
        _ = try? await qmp(id, on: source, timeout: 5) { client throws(QMPError) in
            let status = try client.execute("query-migrate", timeout: 5)["status"]?.string ?? "none"
            if !["none", "completed", "failed", "cancelled"].contains(status) {
                try? client.execute("migrate_cancel", timeout: 5)
                for _ in 0..<100 {
                    let now = try client.execute("query-migrate", timeout: 5)["status"]?.string ?? "none"
                    if ["completed", "failed", "cancelled"].contains(now) { break }
                    usleep(100_000)
                }
            }
        }
        _ = await discard(id, on: target)
        if await resume(id, on: source, from: ["paused", "postmigrate"], tries: 50, every: .milliseconds(100)) {
            return "the guest runs on \(source) again"
        }
        return pid(id, on: source) == nil ? "and its QEMU on \(source) is gone too" : "but the guest on \(source) could not be resumed"
    }

    /// Sends `cont` while the machine on `node` is in one of the `from` states, until it runs;
    /// false when it does not within `tries` looks.
    func resume(_ id: InstanceID, on node: NodeID, from states: Set<String>, tries: Int, every pause: Duration) async -> Bool {
        for _ in 0..<tries {
            let status = try? await qmp(id, on: node, timeout: 5) { client throws(QMPError) -> String? in
                let status = try client.execute("query-status", timeout: 5)["status"]?.string
                if let status, states.contains(status) { try client.execute("cont", timeout: 5) }
                return status
            }
            if status == "running" { return true }
            try? await Task.sleep(for: pause)
        }
        return false
    }

    func migrationMarker(_ id: InstanceID) -> String { directory(id) + "/migration" }

    /// Why the guest on `node` is not well after a migration, or nil: its QEMU process alive, the
    /// machine running (not panicked), its vCPU threads placed with the quota, and two
    /// heartbeats written there.
    func targetFailure(_ id: InstanceID, on node: NodeID, limits: ResourceVector) async -> String? {
        let deadline = QMPClient.now() + verificationSeconds
        var seen: Set<Int> = []
        var placed = false
        var silence: String?
        while QMPClient.now() < deadline {
            guard pid(id, on: node) != nil else { return "its QEMU process on \(node) is gone" }
            let status: String
            do {
                status = try await qmp(id, on: node, timeout: 5, { client throws(QMPError) in try client.execute("query-status", timeout: 5) })["status"]?.string ?? "unknown"
            } catch {
                // A live QEMU whose monitor fails once (its last client still closing) is asked
                // again until the deadline.
                guard pid(id, on: node) != nil else { return "its QEMU process on \(node) is gone" }
                silence = "\(error)"
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            silence = nil
            if status == "guest-panicked" || status == "internal-error" || status == "shutdown" { return "the guest on \(node) is \(status)" }
            // Stop-and-copy's target waits for `cont`; one sent while it still loaded may be lost.
            if status == "paused" { _ = try? await qmp(id, on: node, timeout: 5) { client throws(QMPError) in try client.execute("cont") } }
            if !placed, status == "running" {
                do {
                    try await place(id, on: node, cores: limits.cpu)
                    placed = true
                } catch {
                    return "its vCPUs on \(node) could not be limited: \(error)"
                }
            }
            // Two heartbeats written there after the switch-over: the guest runs, not just resumed.
            if placed, let beat = try? heartbeat(id, on: node), beat.age <= heartbeatTimeout {
                seen.insert(beat.beat.sequence)
                if seen.count >= 2 { return nil }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        if let silence { return "its QEMU on \(node) does not answer: \(silence)" }
        return "no heartbeat from the guest on \(node) within \(Int(verificationSeconds)) s"
    }

    /// Kills the machine's QEMU on `node` and removes its files and cgroup there; false (files
    /// kept) when the process outlives SIGKILL.
    func discard(_ id: InstanceID, on node: NodeID) async -> Bool {
        if let pid = pid(id, on: node) {
            kill(pid, SIGKILL)
            for _ in 0..<100 where self.pid(id, on: node) != nil { try? await Task.sleep(for: .milliseconds(20)) }
            if self.pid(id, on: node) != nil { return false }
        }
        let group = cgroup(id, on: node)
        for path in Set([group.cpu, group.cpuacct]) { rmdir(path) }
        try? FileManager.default.removeItem(atPath: directory(id, on: node))
        return true
    }

    func appendRecord(_ record: QEMUMigrationRecord) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(record) else { return }
        try? ControlFiles.append(String(decoding: data, as: UTF8.self) + "\n", to: migrationLog)
    }

    /// Settles migrations a crash interrupted, exactly once. Where the node file already names
    /// the target, the source is discarded (rolled forward). Otherwise the stream is cancelled,
    /// the target discarded and the source resumed; but when the source is gone and the target
    /// runs the guest, the target is kept. Machines an operation of this driver holds are left
    /// alone: their marker is not a crash's.
    public func recoverMigrations() async {
        for name in ControlFiles.subdirectories(runDirectory) {
            let id = InstanceID(name)
            guard !isBusy(id), let text = try? ControlFiles.read(migrationMarker(id)), let current = try? location(id) else { continue }
            let target = NodeID(text.trimmingCharacters(in: .whitespacesAndNewlines))
            if current == target {
                for node in nodes where node.id != current { _ = await discard(id, on: node.id) }
            } else if pid(id, on: current) == nil, pid(id, on: target) != nil,
                      (try? await qmp(id, on: target, timeout: 5) { client throws(QMPError) in try client.execute("query-status", timeout: 5) })?["status"]?.string == "running" {
                try? writeAtomically(target.rawValue, to: directory(id) + "/node")
            } else {
                _ = await rollBack(id, source: current, target: target)
            }
            unlink(migrationMarker(id))
        }
    }
}
