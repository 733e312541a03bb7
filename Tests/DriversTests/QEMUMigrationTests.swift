#if canImport(Glibc)
import Glibc
#endif
@testable import Drivers
import Foundation
import PoolCore
import Testing

/// Two nodes that are really apart: a network namespace each, made by `scripts/qemu_nodes.sh`
/// (joined through a bridge by veth pairs whose namespace ends send at most `rate`, tbf), so
/// that a migration between them has a real cost.
struct NamespaceNodes {
    let tag: String
    var a: String { "psw\(tag)-1" }
    var b: String { "psw\(tag)-2" }
    static let addressA = "10.231.0.1", addressB = "10.231.0.2"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/qemu_nodes.sh").path

    init(rate: String) throws {
        tag = String(UUID().uuidString.prefix(6).lowercased())
        try Self.run(["up", "psw\(tag)", "2", rate])
    }

    func tearDown() {
        try? Self.run(["down", "psw\(tag)"])
    }

    static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw DriverError.command("qemu_nodes.sh " + arguments.joined(separator: " "), status: process.terminationStatus, output: "") }
    }

    /// `bandwidth`: what the driver is told the link carries, bytes a second.
    func driver(bandwidth: Double, parent: String, work: String) throws -> QEMUDriver {
        try QEMUDriver(runDirectory: work, nodes: [
            QEMUNode(id: "node-a", capacity: ResourceVector(cpu: 4, memory: 4), namespace: a, address: Self.addressA, bandwidth: bandwidth),
            QEMUNode(id: "node-b", capacity: ResourceVector(cpu: 4, memory: 4), namespace: b, address: Self.addressB, bandwidth: bandwidth),
        ], cgroupParent: parent)
    }
}

/// A guest on node-a of two namespace nodes, torn down after `body`.
func withMigratingGuest(load: String, mode: MigrationCostModel.Mode, _ body: (QEMUDriver, InstanceID) async throws -> Void) async throws {
    let nodes = try NamespaceNodes(rate: "200mbit")
    let tag = nodes.tag
    let work = "/tmp/poolswap-qemu-\(tag)", parent = "poolswap-test-\(tag)"
    defer {
        nodes.tearDown()
        try? FileManager.default.removeItem(atPath: work)
    }
    let qemu = try nodes.driver(bandwidth: 25_000_000, parent: parent, work: work)
    var machine = QEMUFixture.machine("vm", memoryMiB: 256, load: load)
    machine.migration = mode
    do {
        try await qemu.start(machine, on: "node-a", allocation: ResourceVector(cpu: 1.5, memory: 0.1875))
        try await QEMUFixture.waitForHeartbeat(qemu, "vm")
        try await body(qemu, "vm")
    } catch {
        try? await qemu.stop("vm")
        throw error
    }
    try? await qemu.stop("vm")
    for hierarchy in ["cpu", "cpuacct"] {
        for node in ["node-a", "node-b"] { rmdir("/sys/fs/cgroup/\(hierarchy)/\(parent)/\(node)") }
        rmdir("/sys/fs/cgroup/\(hierarchy)/\(parent)")
    }
}

/// The guest's heartbeat sequence on `node` once it has gone past `after`, or nil after 20 s.
func heartbeatGoesOn(_ qemu: QEMUDriver, _ id: InstanceID, on node: NodeID, after: Int) async throws -> Int? {
    for _ in 0..<100 {
        if let beat = try qemu.heartbeat(id, on: node)?.beat, beat.sequence > after { return beat.sequence }
        try await Task.sleep(for: .milliseconds(200))
    }
    return nil
}

extension QEMUGuests {
@Suite("QEMU live migration between namespace nodes", .serialized)
struct QEMUMigrationTests {
    /// Pre-copy of an idle guest, stop-and-copy of a dirtying one: under TCG, QEMU 7.2's
    /// pre-copy corrupts a guest that dirties memory often enough (the next test).
    @Test(arguments: [(MigrationCostModel.Mode.preCopy, ""), (.stopAndCopy, "poolswap.dirty=32:4")])
    func aGuestMovesWhileItRunsAndKeepsItsResources(mode: MigrationCostModel.Mode, load: String) async throws {
        try await withMigratingGuest(load: load, mode: mode) { qemu, id in
            let before = try #require(try qemu.heartbeat(id, on: "node-a")).beat.sequence
            let estimates = await qemu.migrationEstimates(of: id, to: ["node-a", "node-b", "node-z"])
            #expect(estimates.count == 3 && estimates[0] == nil && estimates[2] == nil, "not to its own node nor an unknown one")
            let estimate = try #require(estimates[1])
            #expect(estimate.seconds > 0 && estimate.transferred > 0)
            let record = try await qemu.migrate(id, to: "node-b", afterSwitchover: nil)
            print("\(mode.rawValue): \(String(format: "%.2f", record.seconds)) s (predicted \(String(format: "%.2f", record.predicted.seconds))), downtime \(String(format: "%.0f", record.downtimeSeconds * 1_000)) ms (predicted \(String(format: "%.0f", record.predicted.downtimeSeconds * 1_000))), \(Int(record.bytes) >> 20) MiB sent")
            #expect(record.outcome == "completed")
            #expect(try qemu.location(id) == "node-b")
            #expect(qemu.pid(id, on: "node-a") == nil, "the source is gone")
            let last = try qemu.heartbeat(id, on: "node-b")?.beat.sequence ?? 0
            #expect(last >= before, "the guest's count carried over: \(last) after \(before)")
            #expect(try await heartbeatGoesOn(qemu, id, on: "node-b", after: last) != nil, "and it goes on at the destination")
            // Its resources there: both vCPUs, in the cgroup with the quota, the balloon as before.
            let threads = try await qemu.vcpuThreads(id, on: "node-b")
            #expect(threads.count == 2)
            let group = qemu.cgroup(id, on: "node-b")
            let tasks = try String(contentsOfFile: group.cpu + "/tasks", encoding: .utf8).split(separator: "\n")
            #expect(threads.values.allSatisfy { tasks.contains(Substring("\($0)")) }, "vCPU threads in the destination's cgroup")
            #expect(try await qemu.allocation(of: id) == ResourceVector(cpu: 1.5, memory: 0.1875), "the ballooned size came along")
            #expect(try await qemu.signals(of: [id])[id]?.healthy == true)
            #expect(record.bytes > 4 * 1_048_576, "the memory in use was sent: \(record.bytes) bytes")
            // The unfitted model is within reach of what happened: units and the iteration right.
            #expect(record.predicted.bytes > record.bytes / 3 && record.predicted.bytes < record.bytes * 3, "bytes: \(record.predicted.bytes) predicted, \(record.bytes) sent")
            #expect(record.predicted.seconds > record.seconds / 3 && record.predicted.seconds < record.seconds * 3, "seconds: \(record.predicted.seconds) predicted, \(record.seconds) taken")
            if mode == .stopAndCopy { #expect(record.downtimeSeconds > record.seconds / 2, "stop-and-copy pauses for the copy") }
            else { #expect(record.downtimeSeconds < record.seconds / 2, "pre-copy pauses for the last pass only") }
            #expect(qemu.migrationRecords().last == record)
        }
    }

    /// Whether the destination is healthy or broken (TCG's pre-copy of a dirtying guest), the
    /// guest ends running in exactly one place, where the ledger's node file says.
    @Test func aPreCopyOfADirtyingGuestEndsWithTheGuestRunningOnce() async throws {
        try await withMigratingGuest(load: "poolswap.dirty=32:4", mode: .preCopy) { qemu, id in
            var outcome = "completed"
            do {
                _ = try await qemu.migrate(id, to: "node-b", afterSwitchover: nil)
            } catch {
                outcome = "\(error)"
                #expect(outcome.contains("undone") && outcome.contains("runs on node-a again"), "rolled back to a running source: \(outcome)")
            }
            print("pre-copy of a dirtying guest: \(outcome)")
            let here = try qemu.location(id)
            let there: NodeID = here == "node-a" ? "node-b" : "node-a"
            #expect(qemu.pid(id, on: there) == nil, "no QEMU of it on \(there)")
            let last = try qemu.heartbeat(id, on: here)?.beat.sequence ?? 0
            #expect(try await heartbeatGoesOn(qemu, id, on: here, after: last) != nil, "it beats on \(here)")
            #expect(qemu.migrationRecords().count == 1)
        }
    }

    @Test func aDestinationKilledDuringItsCheckIsDiscardedAndTheSourceResumed() async throws {
        try await withMigratingGuest(load: "", mode: .preCopy) { qemu, id in
            await #expect {
                _ = try await qemu.migrate(id, to: "node-b") { _, pid in kill(pid, SIGKILL) }
            } throws: { error in
                guard case .refused(_, let why) = error as? DriverError else { return false }
                return why.contains("undone") && why.contains("gone")
            }
            try await theGuestRunsOnTheSourceAgain(qemu, id)
        }
    }

    @Test func aDestinationWhoseGuestPanicsIsDiscardedAndTheSourceResumed() async throws {
        try await withMigratingGuest(load: "", mode: .preCopy) { qemu, id in
            await #expect {
                _ = try await qemu.migrate(id, to: "node-b") { socket, _ in
                    // An NMI sent before the target runs is lost: wait for it to run.
                    let client = try? QMPClient(path: socket)
                    for _ in 0..<100 where (try? client?.execute("query-status"))??["status"]?.string != "running" { usleep(50_000) }
                    try? client?.execute("inject-nmi")
                    _ = try? client?.waitForEvent("GUEST_PANICKED", timeout: 30)
                }
            } throws: { error in
                guard case .refused(_, let why) = error as? DriverError else { return false }
                return why.contains("undone") && why.contains("guest-panicked")
            }
            try await theGuestRunsOnTheSourceAgain(qemu, id)
        }
    }

    @Test func aMigrationACrashInterruptedEndsOnTheSourceExactlyOnce() async throws {
        try await withMigratingGuest(load: "", mode: .preCopy) { qemu, id in
            // The state a crash leaves between starting the target and the commit: a paused
            // target and the marker naming it.
            try await qemu.launch(try qemu.machine(id), node: try qemu.node("node-b"), incoming: true, pluggedSockets: [1])
            try qemu.writeAtomically("node-b", to: qemu.migrationMarker(id))
            #expect(qemu.pid(id, on: "node-b") != nil)
            await qemu.recoverMigrations()
            #expect(qemu.pid(id, on: "node-b") == nil, "the target is discarded")
            #expect(!FileManager.default.fileExists(atPath: qemu.migrationMarker(id)))
            try await theGuestRunsOnTheSourceAgain(qemu, id)
        }
    }

    func theGuestRunsOnTheSourceAgain(_ qemu: QEMUDriver, _ id: InstanceID) async throws {
        #expect(try qemu.location(id) == "node-a")
        #expect(qemu.pid(id, on: "node-b") == nil, "no QEMU left on the destination")
        #expect(!FileManager.default.fileExists(atPath: qemu.directory(id, on: "node-b")))
        let last = try #require(try qemu.heartbeat(id, on: "node-a")).beat.sequence
        #expect(try await heartbeatGoesOn(qemu, id, on: "node-a", after: last) != nil, "the source guest beats again")
        #expect(try await qemu.qmp(id, on: "node-a") { client throws(QMPError) in try client.execute("query-status") }["status"]?.string == "running")
        #expect(qemu.migrationRecords().allSatisfy { $0.outcome != "completed" })
    }

    @Test func aMigrationACrashInterruptedAfterItsCommitEndsOnTheTarget() async throws {
        try await withMigratingGuest(load: "", mode: .preCopy) { qemu, id in
            // Migrated, committed, then the crash: the source's QEMU (paused after the copy) and
            // the marker are still there.
            let leftover = try #require(qemu.pid(id, on: "node-a"))
            _ = try await qemu.migrate(id, to: "node-b", afterSwitchover: nil)
            #expect(qemu.pid(id, on: "node-a") == nil, "a completed migration discards its source")
            // Rebuild the state a crash just after the commit leaves: a source QEMU that holds
            // nothing any more, and the marker.
            try await qemu.launch(try qemu.machine(id), node: try qemu.node("node-a"), incoming: true, pluggedSockets: [1])
            try qemu.writeAtomically("node-b", to: qemu.migrationMarker(id))
            #expect(qemu.pid(id, on: "node-a") != nil && qemu.pid(id, on: "node-a") != leftover)
            await qemu.recoverMigrations()
            #expect(try qemu.location(id) == "node-b")
            #expect(qemu.pid(id, on: "node-a") == nil, "the stale source is discarded")
            let last = try #require(try qemu.heartbeat(id, on: "node-b")).beat.sequence
            #expect(try await heartbeatGoesOn(qemu, id, on: "node-b", after: last) != nil, "the guest goes on on the target, once")
        }
    }

    @Test func aResizeDuringAMigrationIsRefusedNotInterleaved() async throws {
        try await withMigratingGuest(load: "", mode: .stopAndCopy) { qemu, id in
            let migration = Task { try await qemu.migrate(id, to: "node-b", afterSwitchover: nil) }
            var refused = false
            for _ in 0..<100 where !refused {
                do {
                    try await Task.sleep(for: .milliseconds(50))
                    if qemu.isBusy(id) {
                        try await qemu.apply(ResourceVector(cpu: 1, memory: 0.1875), to: id)
                    }
                } catch let error as DriverError {
                    if case .refused(_, let why) = error, why.contains("busy") { refused = true }
                }
            }
            #expect(refused, "a resize while the migration holds the machine is refused")
            _ = try await migration.value
            #expect(try qemu.location(id) == "node-b")
            #expect(try await qemu.allocation(of: id) == ResourceVector(cpu: 1.5, memory: 0.1875), "and changed nothing")
        }
    }
}
}

@Suite("Migration cost model")
struct MigrationCostModelTests {
    let input = MigrationCostModel.Input(memoryBytes: 100e6, dirtyRate: 10e6, dirtyWorkingSet: 50e6, bandwidth: 25e6, downtimeLimit: 0.3, mode: .preCopy)

    @Test func preCopyResendsWhatWasDirtiedUntilTheRestFitsTheDowntime() {
        let model = MigrationCostModel(efficiency: 1, setupSeconds: 0, switchoverSeconds: 0)
        let p = model.predict(input)
        // 100 MB in 4 s dirties 40 MB (1.6 s), which dirties 16 MB (0.64 s), then 6.4 MB: 0.256 s ≤ 0.3.
        #expect(p.passes == 3 && p.converges)
        #expect(abs(p.bytes - 162.4e6) < 1)
        #expect(abs(p.seconds - 6.496) < 1e-9)
        #expect(abs(p.downtimeSeconds - 0.256) < 1e-9)
        var still = input
        still.mode = .stopAndCopy
        let s = model.predict(still)
        #expect(s.seconds == 4 && s.downtimeSeconds == 4 && s.passes == 0)
        var hot = input
        hot.dirtyRate = 40e6
        #expect(!model.predict(hot).converges, "dirtying faster than the link sends never converges")
    }

    @Test func theFitRecoversTheConstantsOfMigrationsItGenerated() {
        let truth = MigrationCostModel(efficiency: 0.8, setupSeconds: 0.4, switchoverSeconds: 0.05)
        var observations: [MigrationCostModel.Observation] = []
        for (memory, rate, mode) in [(60e6, 0.0, MigrationCostModel.Mode.preCopy), (120e6, 5e6, .preCopy), (200e6, 2e6, .stopAndCopy), (90e6, 8e6, .preCopy)] {
            let i = MigrationCostModel.Input(memoryBytes: memory, dirtyRate: rate, dirtyWorkingSet: 64e6, bandwidth: 25e6, downtimeLimit: 0.3, mode: mode)
            let p = truth.predict(i)
            observations.append(.init(input: i, seconds: p.seconds, downtimeSeconds: p.downtimeSeconds, bytes: p.bytes))
        }
        let fitted = MigrationCostModel().fitted(to: observations)
        #expect(abs(fitted.efficiency - 0.8) < 0.02, "\(fitted)")
        #expect(abs(fitted.setupSeconds - 0.4) < 0.05, "\(fitted)")
        #expect(abs(fitted.switchoverSeconds - 0.05) < 0.02, "\(fitted)")
        #expect(MigrationCostModel().fitted(to: []) == MigrationCostModel())
    }
}
