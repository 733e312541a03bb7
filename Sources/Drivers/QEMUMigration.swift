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
    /// measured (`calc-dirty-rate`, one second), the link's bandwidth, the fitted model.
    public func migrationInput(of id: InstanceID, to target: NodeID) async throws(DriverError) -> MigrationCostModel.Input {
        let machine = try machine(id)
        let source = try location(id)
        let from = try node(source), to = try node(target)
        let used = try await guestMemory(id, on: source).used * 1_073_741_824
        let rate = try await qmp(id, on: source, timeout: 10) { client throws(QMPError) -> Double in
            try client.execute("calc-dirty-rate", ["calc-time": 1, "sample-pages": 512])
            let deadline = QMPClient.now() + 10
            while QMPClient.now() < deadline {
                usleep(200_000)
                let answer = try client.execute("query-dirty-rate")
                if answer["status"]?.string == "measured" { return (answer["dirty-rate"]?.double ?? 0) * 1_048_576 }
            }
            return -1
        }
        guard rate >= 0 else { throw .refused(id, "calc-dirty-rate gave no figure within 10 s") }
        let bandwidth = min(from.bandwidth ?? 1_073_741_824, to.bandwidth ?? 1_073_741_824)
        return MigrationCostModel.Input(memoryBytes: used, dirtyRate: rate, dirtyWorkingSet: used, bandwidth: bandwidth,
                                        downtimeLimit: downtimeLimit, mode: machine.migration ?? .preCopy)
    }

    public func migrationEstimate(of id: InstanceID, to node: NodeID) async -> MigrationEstimate? {
        guard let source = try? location(id), source != node, (try? self.node(node)) != nil,
              let input = try? await migrationInput(of: id, to: node) else { return nil }
        let predicted = costModel().predict(input)
        return MigrationEstimate(seconds: predicted.seconds, downtimeMilliseconds: predicted.downtimeSeconds * 1_000,
                                 transferred: predicted.bytes / 1_073_741_824)
    }

    public func migrate(_ id: InstanceID, to node: NodeID) async throws(DriverError) {
        _ = try await migrate(id, to: node, afterSwitchover: nil)
    }

    /// Moves `id` to `target` while it runs and returns the record. The guest's memory stays on
    /// the source until the target has passed its health check (QEMU process alive, machine
    /// running, fresh heartbeats from the guest there); a target that fails it is killed and the
    /// source resumed, and the migration is refused. `afterSwitchover` runs once the target has
    /// the guest, before the check: tests break the target there.
    public func migrate(_ id: InstanceID, to target: NodeID,
                        afterSwitchover: (@Sendable (_ qmpSocket: String, _ pid: pid_t) async -> Void)?) async throws(DriverError) -> QEMUMigrationRecord {
        let machine = try machine(id)
        let source = try location(id)
        guard source != target else { throw .refused(id, "already on \(target)") }
        let destination = try node(target)
        guard pid(id, on: source) != nil else { throw .unknownInstance(id) }
        guard !ControlFiles.exists(migrationMarker(id)) else { throw .refused(id, "a migration of it is under way") }
        let input = try await migrationInput(of: id, to: target)
        let predicted = costModel().predict(input)
        let allocation = try await allocation(of: id)
        let plugged = try await vcpuThreads(id, on: source).keys.filter { $0 >= machine.cpus }.sorted()
        busy.withLock { _ = $0.insert(id) }
        defer { busy.withLock { _ = $0.remove(id) } }
        try writeAtomically(target.rawValue, to: migrationMarker(id))

        // The target: the same machine with the same CPUs, waiting for the stream.
        try ControlFiles.makeDirectories(directory(id, on: target))
        let started = QMPClient.now()
        do {
            try await launch(machine, node: destination, incoming: true, pluggedSockets: plugged)
        } catch {
            discardTarget(id, on: target)
            throw error
        }
        let endpoint: String
        do {
            endpoint = try await qmp(id, on: target) { client throws(QMPError) -> String in
                try client.execute("migrate-set-capabilities", ["capabilities": [["capability": "events", "state": true]]])
                try client.execute("migrate-incoming", ["uri": .string("tcp:\(destination.address):0")])
                let listening = try client.execute("query-migrate")["socket-address"]?.array?.first
                return "tcp:\(destination.address):\(listening?["port"]?.string ?? "")"
            }
        } catch {
            discardTarget(id, on: target)
            throw error
        }

        // The stream. Stop-and-copy pauses the guest first; pre-copy lets QEMU pause it when
        // what is left fits the downtime limit.
        let mode = input.mode
        let limit = downtimeLimit
        let bandwidth = input.bandwidth
        let measured: (seconds: Double, downtime: Double, bytes: Double, paused: Double)
        do {
            measured = try await qmp(id, on: source, timeout: 10) { client throws(QMPError) -> (Double, Double, Double, Double) in
                try client.execute("migrate-set-parameters", ["downtime-limit": .integer(Int64(limit * 1_000)),
                                                             "max-bandwidth": .integer(Int64(bandwidth * 4))])
                var paused = 0.0
                if mode == .stopAndCopy {
                    try client.execute("stop")
                    paused = QMPClient.now()
                }
                try client.execute("migrate", ["uri": .string(endpoint)])
                let deadline = QMPClient.now() + 600
                while QMPClient.now() < deadline {
                    let state = try client.execute("query-migrate")
                    switch state["status"]?.string ?? "" {
                    case "completed":
                        return (state["total-time"]?.double ?? 0, state["downtime"]?.double ?? 0, state["ram"]?["transferred"]?.double ?? 0, paused)
                    case "failed", "cancelled":
                        throw QMPError.command(client.path, "migrate", errorClass: "MigrationFailed", state["error-desc"]?.string ?? "status \(state["status"]?.string ?? "?")")
                    default:
                        usleep(50_000)
                    }
                }
                try? client.execute("migrate_cancel")
                throw QMPError.timeout(client.path, "migration to complete", seconds: 600)
            }
        } catch {
            discardTarget(id, on: target)
            _ = try? await qmp(id, on: source) { client throws(QMPError) in try client.execute("cont") }
            throw error
        }
        var downtime = measured.downtime / 1_000
        if mode == .stopAndCopy {
            _ = try? await qmp(id, on: target) { client throws(QMPError) in try client.execute("cont") }
            downtime = QMPClient.now() - measured.paused
        }
        let seconds = QMPClient.now() - started
        if let afterSwitchover, let pid = pid(id, on: target) { await afterSwitchover(qmpSocket(id, on: target), pid) }

        // The check; the source still holds the guest.
        var record = QEMUMigrationRecord(instance: id, from: source, to: target, input: input, predicted: predicted, seconds: seconds,
                                         downtimeSeconds: downtime, bytes: measured.bytes, outcome: "completed")
        if let why = await targetFailure(id, on: target, limits: allocation) {
            discardTarget(id, on: target)
            _ = try? await qmp(id, on: source) { client throws(QMPError) in try client.execute("cont") }
            record.outcome = "rolled back: \(why)"
            appendRecord(record)
            unlink(migrationMarker(id))
            throw .refused(id, "the migration to \(target) was undone, the guest runs on \(source) again: \(why)")
        }
        // The commit point: the node file names the target.
        try writeAtomically(target.rawValue, to: directory(id) + "/node")
        unlink(migrationMarker(id))
        discardTarget(id, on: source)
        appendRecord(record)
        return record
    }

    func migrationMarker(_ id: InstanceID) -> String { directory(id) + "/migration" }

    /// Why the guest on `node` is not well after a migration, or nil: its QEMU process alive, the
    /// machine running (not panicked), its vCPU threads placed with the quota, and two
    /// heartbeats written there.
    func targetFailure(_ id: InstanceID, on node: NodeID, limits: ResourceVector) async -> String? {
        let deadline = QMPClient.now() + verificationSeconds
        var seen: Set<Int> = []
        var placed = false
        while QMPClient.now() < deadline {
            guard pid(id, on: node) != nil else { return "its QEMU process on \(node) is gone" }
            guard let status = try? await qmp(id, on: node, timeout: 5, { client throws(QMPError) in try client.execute("query-status", timeout: 5) })["status"]?.string else {
                return pid(id, on: node) == nil ? "its QEMU process on \(node) is gone" : "its QEMU on \(node) does not answer"
            }
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
        return "no heartbeat from the guest on \(node) within \(Int(verificationSeconds)) s"
    }

    /// Kills the machine's QEMU on `node` and removes its files and cgroup there.
    func discardTarget(_ id: InstanceID, on node: NodeID) {
        if let pid = pid(id, on: node) {
            kill(pid, SIGKILL)
            for _ in 0..<100 where self.pid(id, on: node) != nil { usleep(20_000) }
        }
        let group = cgroup(id, on: node)
        for path in Set([group.cpu, group.cpuacct]) { rmdir(path) }
        try? FileManager.default.removeItem(atPath: directory(id, on: node))
    }

    func appendRecord(_ record: QEMUMigrationRecord) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(record) else { return }
        try? ControlFiles.append(String(decoding: data, as: UTF8.self) + "\n", to: migrationLog)
    }

    /// Settles migrations a crash interrupted, exactly once: where the node file already names
    /// the target, the source is discarded; otherwise the target is, and the source resumed.
    public func recoverMigrations() async {
        for name in ControlFiles.subdirectories(runDirectory) {
            let id = InstanceID(name)
            guard let target = try? ControlFiles.read(migrationMarker(id)).trimmingCharacters(in: .whitespacesAndNewlines),
                  let current = try? location(id) else { continue }
            if current.rawValue == target {
                for node in nodes where node.id != current { discardTarget(id, on: node.id) }
            } else {
                discardTarget(id, on: NodeID(target))
                _ = try? await qmp(id, on: current) { client throws(QMPError) in try client.execute("cont") }
            }
            unlink(migrationMarker(id))
        }
    }
}
