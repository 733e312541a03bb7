#if canImport(Glibc)
import Glibc
#endif
import Drivers
import Foundation
import PoolCore
import Testing

/// Real processes in real cgroups under a parent of their own: busy is `dd` copying 16 MiB
/// blocks (a core's worth of work, 16 MiB resident), idle is `sleep`, hungry asks for 128 MiB
/// again and again under a 64 MiB limit. Each process writes itself into its cgroup before it
/// starts, so all it allocates is charged there.
struct CgroupFixture: DriverFixture {
    let cgroup: CgroupDriver
    var driver: any InstanceDriver { cgroup }
    let busy: InstanceID = "busy"
    let idle: InstanceID = "idle"
    let hungry: InstanceID = "hungry"
    let processes: [Process]

    /// Why real cgroups of `version` cannot be used here, or nil.
    static func unavailable(_ version: CgroupLayout.Version) -> String? {
        guard geteuid() == 0 else { return "cgroup tests need root to create cgroups" }
        guard let layout = layout(version) else {
            return version == .v1 ? "no cgroup v1 hierarchies with cpu, cpuacct and memory are mounted here"
                : "no cgroup v2 hierarchy with the cpu and memory controllers here (this machine's /sys/fs/cgroup/unified offers \((try? String(contentsOfFile: "/sys/fs/cgroup/unified/cgroup.controllers", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "nothing") only)"
        }
        return access(layout.cpu, W_OK) == 0 ? nil : "\(layout.cpu) is not writable"
    }

    static func layout(_ version: CgroupLayout.Version) -> CgroupLayout? {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return nil }
        switch version {
        case .v1:
            return CgroupLayout.detect(mounts: mounts, controllers: { _ in nil }).flatMap { $0.version == .v1 ? $0 : nil }
        case .v2:
            let v1Free = mounts.split(separator: "\n").filter { $0.split(separator: " ").dropFirst(2).first != "cgroup" }.joined(separator: "\n")
            return CgroupLayout.detect(mounts: v1Free)
        }
    }

    init(_ version: CgroupLayout.Version) async throws {
        let parent = "poolswap-test-\(UUID().uuidString.prefix(8).lowercased())"
        cgroup = try CgroupDriver(parent: parent, nodeName: "test-node", layout: try #require(Self.layout(version)))
        let mib = 1.0 / 1024
        for (id, memory) in [(busy, 512 * mib), (idle, 512 * mib), (hungry, 64 * mib)] {
            try cgroup.create(id)
            try await cgroup.apply(ResourceVector(cpu: 0.3, memory: memory), to: id)
        }
        processes = try [
            Self.spawn("exec dd if=/dev/zero of=/dev/null bs=16M", joining: cgroup.procsFiles(of: busy)),
            Self.spawn("exec sleep 1000000", joining: cgroup.procsFiles(of: idle)),
            Self.spawn("while :; do dd if=/dev/zero of=/dev/null bs=128M count=1 2>/dev/null; sleep 0.3; done", joining: cgroup.procsFiles(of: hungry)),
        ]
        // Each has joined its cgroup once it shows there.
        for id in [busy, idle, hungry] {
            var waited = 0
            while try cgroup.processes(of: id).isEmpty, waited < 100 {
                try await Task.sleep(for: .milliseconds(20))
                waited += 1
            }
            #expect(try !cgroup.processes(of: id).isEmpty, "\(id) started in its cgroup")
        }
    }

    static func spawn(_ script: String, joining files: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", files.map { "echo $$ > \($0)" }.joined(separator: "; ") + "; " + script]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func tick() async throws { try await Task.sleep(for: .seconds(1)) }

    func tearDown() async {
        for id in [busy, idle, hungry] {
            for _ in 0..<100 {
                let pids = (try? cgroup.processes(of: id)) ?? []
                if pids.isEmpty { break }
                for pid in pids { kill(pid, SIGKILL) }
                try? await Task.sleep(for: .milliseconds(20))
            }
            try? cgroup.remove(id)
        }
        for root in Set([cgroup.layout.cpu, cgroup.layout.cpuacct, cgroup.layout.memory]) { rmdir("\(root)/\(cgroup.parent)") }
    }

    static func run(_ version: CgroupLayout.Version, _ body: (DriverConformance) async throws -> Void) async throws {
        try await DriverConformance.run(on: try await CgroupFixture(version), body)
    }
}

let cgroupV1Unavailable = CgroupFixture.unavailable(.v1)
let cgroupV2Unavailable = CgroupFixture.unavailable(.v2)

@Suite("cgroup v1 driver conformance", .serialized, .enabled(if: cgroupV1Unavailable == nil, Comment(rawValue: cgroupV1Unavailable ?? "")))
struct CgroupV1DriverTests {
    @Test func inventory() async throws { try await CgroupFixture.run(.v1) { try await $0.inventoryListsTheInstancesWithTheirLimits() } }
    @Test func resize() async throws { try await CgroupFixture.run(.v1) { try await $0.aResizeTakesEffectAndReadsBack() } }
    @Test func refusals() async throws { try await CgroupFixture.run(.v1) { try await $0.whatCannotBeDoneIsRefusedAndChangesNothing() } }
    @Test func throttling() async throws { try await CgroupFixture.run(.v1) { try await $0.aCPUQuotaThrottlesAndTheThrottlingIsMeasured() } }
    @Test func oomKills() async throws { try await CgroupFixture.run(.v1) { try await $0.aMemoryLimitReachedIsAnOOMKillCounted() } }

    @Test func theLimitsAreTheKernelsFilesAndAnUnlimitedCgroupReadsInfinite() async throws {
        try await CgroupFixture.run(.v1) { suite in
            let cgroup = try #require(suite.fixture.driver as? CgroupDriver)
            try await cgroup.apply(ResourceVector(cpu: 0.75, memory: 0.125), to: "idle")
            let cpu = cgroup.layout.cpu + "/" + cgroup.parent + "/idle"
            let memory = cgroup.layout.memory + "/" + cgroup.parent + "/idle"
            #expect(try String(contentsOfFile: cpu + "/cpu.cfs_quota_us", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "75000")
            #expect(try String(contentsOfFile: cpu + "/cpu.cfs_period_us", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "100000")
            #expect(try String(contentsOfFile: memory + "/memory.limit_in_bytes", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "134217728")
            try await cgroup.apply(ResourceVector(cpu: .infinity, memory: .infinity), to: "idle")
            #expect(try await cgroup.allocation(of: "idle") == ResourceVector(cpu: .infinity, memory: .infinity))
            try cgroup.create("late")
            #expect(try await cgroup.inventory().instances.contains { $0.id == "late" && $0.allocation.cpu == .infinity },
                    "a cgroup made by someone else is found, without limits")
            try cgroup.remove("late")
            #expect(throws: DriverError.self) { try cgroup.create("../escape") }
        }
    }
}

@Suite("cgroup v2 driver conformance", .serialized, .enabled(if: cgroupV2Unavailable == nil, Comment(rawValue: cgroupV2Unavailable ?? "")))
struct CgroupV2DriverTests {
    @Test func inventory() async throws { try await CgroupFixture.run(.v2) { try await $0.inventoryListsTheInstancesWithTheirLimits() } }
    @Test func resize() async throws { try await CgroupFixture.run(.v2) { try await $0.aResizeTakesEffectAndReadsBack() } }
    @Test func refusals() async throws { try await CgroupFixture.run(.v2) { try await $0.whatCannotBeDoneIsRefusedAndChangesNothing() } }
    @Test func throttling() async throws { try await CgroupFixture.run(.v2) { try await $0.aCPUQuotaThrottlesAndTheThrottlingIsMeasured() } }
    @Test func oomKills() async throws { try await CgroupFixture.run(.v2) { try await $0.aMemoryLimitReachedIsAnOOMKillCounted() } }
}

@Suite struct CgroupLayoutTests {
    @Test func v1WithSeparateOrJoinedControllersAndV2AreRecognised() {
        let hybrid = """
            cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
            cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
            cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
            cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
            """
        #expect(CgroupLayout.detect(mounts: hybrid, controllers: { _ in "hugetlb" })
                == CgroupLayout(version: .v1, cpu: "/sys/fs/cgroup/cpu", cpuacct: "/sys/fs/cgroup/cpuacct", memory: "/sys/fs/cgroup/memory"))
        let joined = "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0"
        #expect(CgroupLayout.detect(mounts: joined)?.cpuacct == "/sys/fs/cgroup/cpu,cpuacct")
        let unified = "cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0"
        #expect(CgroupLayout.detect(mounts: unified, controllers: { _ in "cpuset cpu io memory pids" }) == .v2(at: "/sys/fs/cgroup"))
        #expect(CgroupLayout.detect(mounts: unified, controllers: { _ in "hugetlb" }) == nil, "v2 without cpu and memory is no use")
        #expect(CgroupLayout.detect(mounts: "proc /proc proc rw 0 0") == nil)
    }
}
