#if canImport(Glibc)
import Glibc
#endif
@testable import Drivers
import Foundation
import PoolCore
import Testing

/// Real QEMU guests (TCG) booting the test guest of `Tests/scripts/build_guest.sh`: busy runs
/// two spinners on up to two vCPUs, idle nothing, hungry asks for 256 MiB again and again in a
/// 192 MiB machine (a balloon held against a hog fails to inflate on a loaded machine; the
/// balloon is exercised by the resize and migration tests). One node, the host's own network.
struct QEMUFixture: DriverFixture {
    let qemu: QEMUDriver
    var driver: any InstanceDriver { qemu }
    let busy: InstanceID = "busy"
    let idle: InstanceID = "idle"
    let hungry: InstanceID = "hungry"
    let work: String
    let parent: String

    static let guestDirectory = ProcessInfo.processInfo.environment["POOLSWAP_GUEST_DIR"] ?? "/var/cache/poolswap/guest"

    /// Why QEMU guests cannot run here, or nil.
    static var unavailable: String? {
        guard geteuid() == 0 else { return "QEMU guests need root (their vCPU threads go into cgroups)" }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin"
        guard path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/qemu-system-x86_64") }) else {
            return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
        }
        for file in ["vmlinuz", "initramfs.cpio.gz"] where !FileManager.default.fileExists(atPath: guestDirectory + "/" + file) {
            return "no test guest in \(guestDirectory): run Tests/scripts/build_guest.sh"
        }
        guard CgroupFixture.unavailable(.v1) == nil else { return CgroupFixture.unavailable(.v1) ?? "" }
        return nil
    }

    static func machine(_ id: InstanceID, memoryMiB: Int = 512, maxCPUs: Int = 2, load: String = "") -> QEMUMachine {
        QEMUMachine(id: id, memoryMiB: memoryMiB, cpus: 1, maxCPUs: maxCPUs, kernel: guestDirectory + "/vmlinuz",
                    initrd: guestDirectory + "/initramfs.cpio.gz", append: load)
    }

    init() async throws {
        let tag = UUID().uuidString.prefix(8).lowercased()
        work = "/tmp/poolswap-qemu-\(tag)"
        parent = "poolswap-test-\(tag)"
        qemu = try QEMUDriver(runDirectory: work, nodes: [QEMUNode(id: "test-node", capacity: ResourceVector(cpu: 8, memory: 8))],
                              cgroupParent: parent)
        let mib = 1.0 / 1024
        do {
            try await qemu.start(Self.machine(busy, load: "poolswap.cpu=2"), on: "test-node", allocation: ResourceVector(cpu: 1.5, memory: 512 * mib))
            try await qemu.start(Self.machine(idle), on: "test-node", allocation: ResourceVector(cpu: 0.5, memory: 512 * mib))
            try await qemu.start(Self.machine(hungry, memoryMiB: 192, maxCPUs: 1, load: "poolswap.hog=256"), on: "test-node",
                                 allocation: ResourceVector(cpu: 1, memory: 192 * mib))
            for id in [busy, idle, hungry] { try await Self.waitForHeartbeat(qemu, id) }
        } catch {
            await tearDown()
            throw error
        }
    }

    /// Waits until the guest of `id` beats and its balloon reports memory.
    static func waitForHeartbeat(_ qemu: QEMUDriver, _ id: InstanceID, seconds: Int = 120) async throws {
        for _ in 0..<(seconds * 5) {
            let node = try qemu.location(id)
            if try qemu.heartbeat(id, on: node) != nil, (try? await qemu.guestMemory(id, on: node)) != nil { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("\(id) gave no heartbeat in \(seconds) s; its console: \((try? String(contentsOfFile: qemu.directory(id, on: try qemu.location(id)) + "/console.log", encoding: .utf8))?.suffix(1_500) ?? "none")")
        throw CancellationError()
    }

    func tick() async throws { try await Task.sleep(for: .seconds(1)) }

    func tearDown() async {
        for id in [busy, idle, hungry] { try? await qemu.stop(id) }
        for hierarchy in ["cpu", "cpuacct", "memory"] {
            rmdir("/sys/fs/cgroup/\(hierarchy)/\(parent)/test-node")
            rmdir("/sys/fs/cgroup/\(hierarchy)/\(parent)")
        }
        try? FileManager.default.removeItem(atPath: work)
    }

    static func run(_ body: (DriverConformance) async throws -> Void) async throws {
        try await DriverConformance.run(on: try await QEMUFixture(), body)
    }
}

let qemuUnavailable = QEMUFixture.unavailable

/// Every suite that boots guests, one at a time: TCG guests on two cores starve each other (and
/// a balloon or a heartbeat then misses its deadline) when suites run side by side.
@Suite("QEMU guests", .serialized, .enabled(if: qemuUnavailable == nil, Comment(rawValue: qemuUnavailable ?? "")))
struct QEMUGuests {}

extension QEMUGuests {
@Suite("QEMU driver conformance", .serialized)
struct QEMUDriverTests {
    @Test func inventory() async throws { try await QEMUFixture.run { try await $0.inventoryListsTheInstancesWithTheirLimits() } }
    @Test func resize() async throws { try await QEMUFixture.run { try await $0.aResizeTakesEffectAndReadsBack() } }
    @Test func refusals() async throws { try await QEMUFixture.run { try await $0.whatCannotBeDoneIsRefusedAndChangesNothing() } }
    @Test func throttling() async throws { try await QEMUFixture.run { try await $0.aCPUQuotaThrottlesAndTheThrottlingIsMeasured() } }
    @Test func oomKills() async throws { try await QEMUFixture.run { try await $0.aMemoryLimitReachedIsAnOOMKillCounted() } }

    @Test func vCPUsArePluggedWithTheQuotaAndTheGuestOnlinesThem() async throws {
        try await QEMUFixture.run { suite in
            let qemu = try #require(suite.fixture.driver as? QEMUDriver)
            let node = try qemu.location("idle")
            #expect(try await qemu.vcpuThreads("idle", on: node).count == 1)
            try await qemu.apply(ResourceVector(cpu: 1.2, memory: 0.5), to: "idle")
            let threads = try await qemu.vcpuThreads("idle", on: node)
            #expect(threads.count == 2, "1.2 cores are two vCPUs: \(threads)")
            let tasks = try String(contentsOfFile: qemu.cgroup("idle", on: node).cpu + "/tasks", encoding: .utf8)
            for thread in threads.values { #expect(tasks.split(separator: "\n").contains(Substring("\(thread)")), "vCPU thread \(thread) is in the cgroup") }
            var online = 0
            for _ in 0..<50 where online != 2 {
                try await Task.sleep(for: .milliseconds(200))
                online = try qemu.heartbeat("idle", on: node)?.beat.cpusOnline ?? 0
            }
            #expect(online == 2, "the guest brought the new vCPU online")
            // Smaller: the quota alone holds it (QEMU 7.2 under TCG cannot unplug safely).
            try await qemu.apply(ResourceVector(cpu: 0.6, memory: 0.5), to: "idle")
            #expect(try await qemu.vcpuThreads("idle", on: node) == threads, "the vCPUs stay")
            #expect(abs(try await qemu.allocation(of: "idle").cpu - 0.6) < 1e-5)
            await #expect(throws: DriverError.self) { try await qemu.apply(ResourceVector(cpu: 2.5, memory: 0.5), to: "idle") }
            await #expect(throws: DriverError.self) { try await qemu.apply(ResourceVector(cpu: 0.6, memory: 0.75), to: "idle") }
            #expect(try await qemu.allocation(of: "idle") == ResourceVector(cpu: 0.6, memory: 0.5), "refusals changed nothing")
        }
    }

    @Test func aKilledGuestIsUnhealthyAndAPanickedOneToo() async throws {
        try await QEMUFixture.run { suite in
            let qemu = try #require(suite.fixture.driver as? QEMUDriver)
            let node = try qemu.location("idle")
            let signals = try await qemu.signals(of: ["idle", "busy"])
            #expect(signals.count == 2 && signals.values.allSatisfy(\.healthy))
            try await qemu.qmp("busy", on: node) { client throws(QMPError) in
                try client.execute("inject-nmi")
                try client.waitForEvent("GUEST_PANICKED", timeout: 30)
            }
            #expect(try await qemu.signals(of: ["busy"])["busy"]?.healthy == false, "a panicked guest is not healthy")
            kill(try #require(qemu.pid("idle", on: node)), SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await qemu.signals(of: ["idle"])["idle"]?.healthy == false, "a guest whose QEMU died is not healthy")
        }
    }
}
}

@Suite("QMP and the guest's messages")
struct QMPTests {
    @Test func jsonKeepsIntegersIntegers() throws {
        let value: JSONValue = ["value": 268_435_456, "ratio": .number(0.5), "name": "balloon0", "on": true, "list": [1, .null]]
        #expect(value.description == #"{"list":[1,null],"name":"balloon0","on":true,"ratio":0.5,"value":268435456}"#)
        #expect(JSONValue.parse(Array(value.description.utf8)) == value)
        #expect(JSONValue.parse(Array("{\"a\":".utf8)) == nil)
    }

    @Test func heartbeatsAreParsedAndTheLastCompleteOneIsTaken() throws {
        let log = "hb 1 3.02 cpus=1 used=20480 oom=0 stall=0\r\nhb 2 4.03 cpus=2 used=21000 oom=1 stall=7\r\nhb 3 5.0 cpus=2 used="
        let beat = try #require(GuestHeartbeat.last(in: log))
        #expect(beat == GuestHeartbeat(line: "hb 2 4.03 cpus=2 used=21000 oom=1 stall=7"))
        #expect(beat.sequence == 2 && beat.cpusOnline == 2 && beat.usedKiB == 21_000 && beat.oomKills == 1 && beat.reclaimStalls == 7)
        #expect(GuestHeartbeat(line: "[    1.2] hb 1 2 cpus=1") == nil)
        // Cut inside its last number: not taken, the one before is.
        #expect(GuestHeartbeat.last(in: "hb 1 3.02 cpus=1 used=20480 oom=0 stall=12\r\nhb 2 4.03 cpus=1 used=20480 oom=0 stall=1")?.reclaimStalls == 12)
    }

    @Test func aMachineStartsWithItsHotpluggedCPUsWhenItAwaitsAMigration() {
        let machine = QEMUMachine(id: "vm1", memoryMiB: 256, cpus: 1, maxCPUs: 4, kernel: "/k", initrd: "/i")
        let plain = machine.arguments(directory: "/run/vm1/a")
        #expect(!plain.contains("-incoming"))
        #expect(plain.contains("1,maxcpus=4,sockets=4,cores=1,threads=1"))
        let incoming = machine.arguments(directory: "/run/vm1/b", incoming: true, pluggedSockets: [1, 2])
        #expect(incoming.suffix(2) == ["-incoming", "defer"])
        #expect(incoming.contains("qemu64-x86_64-cpu,id=cpu-2,socket-id=2,core-id=0,thread-id=0"))
        #expect(incoming.contains("unix:/run/vm1/b/qmp.sock,server=on,wait=off"))
    }

    @Test(.enabled(if: qemuUnavailable == nil, Comment(rawValue: qemuUnavailable ?? "")))
    func commandsEventsRefusalsAndTimeoutsOnARealQEMU() async throws {
        let work = "/tmp/poolswap-qmp-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let qemu = Process()
        qemu.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-system-x86_64")
        qemu.arguments = ["-machine", "none", "-nodefaults", "-display", "none", "-qmp", "unix:\(work)/qmp.sock,server=on,wait=off", "-S"]
        try qemu.run()
        defer { qemu.terminate(); qemu.waitUntilExit() }
        var client: QMPClient?
        for _ in 0..<100 where client == nil {
            client = try? QMPClient(path: work + "/qmp.sock", timeout: 5)
            if client == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let qmp = try #require(client)
        #expect(try qmp.execute("query-status")["status"]?.string == "prelaunch")
        #expect(throws: QMPError.command(work + "/qmp.sock", "no-such-command", errorClass: "CommandNotFound",
                                         "The command no-such-command has not been found")) { try qmp.execute("no-such-command") }
        do {
            try qmp.execute("qom-get", ["path": "/machine", "property": "no-such-property"])
            Issue.record("an unknown property is refused")
        } catch { #expect(error.description.contains("qom-get refused")) }
        #expect(throws: QMPError.timeout(work + "/qmp.sock", "event SHUTDOWN", seconds: 0.3)) { try qmp.waitForEvent("SHUTDOWN", timeout: 0.3) }
        try qmp.execute("quit")
        #expect(try qmp.waitForEvent("SHUTDOWN", timeout: 10).name == "SHUTDOWN")
        #expect(throws: QMPError.self) { try qmp.execute("query-status", timeout: 5) }
    }
}
