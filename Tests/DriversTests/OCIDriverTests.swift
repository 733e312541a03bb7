#if canImport(Glibc)
import Glibc
#endif
import Drivers
import Foundation
import PoolCore
import Testing

/// Real runc containers from a busybox root filesystem, under a runc state directory and a
/// parent cgroup of their own: busy runs `dd` copying 16 MiB blocks, idle `sleep`, hungry asks
/// for 128 MiB again and again under a 64 MiB limit.
struct OCIFixture: DriverFixture {
    let oci: OCIDriver
    var driver: any InstanceDriver { oci }
    let busy: InstanceID = "busy"
    let idle: InstanceID = "idle"
    let hungry: InstanceID = "hungry"
    let work: String
    let parent: String

    static let busybox = ["/usr/bin/busybox", "/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why runc containers cannot run here, or nil.
    static var unavailable: String? {
        guard geteuid() == 0 else { return "runc containers need root" }
        guard ProcessInfo.processInfo.environment["PATH"].map({ $0.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/runc") } }) == true
                || FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") else { return "runc is not installed (apt-get install runc)" }
        guard busybox != nil else { return "no busybox to build the container's root filesystem from (apt-get install busybox-static)" }
        return nil
    }

    init() async throws {
        work = NSTemporaryDirectory() + "poolswap-oci-\(UUID().uuidString.prefix(8).lowercased())"
        parent = "poolswap-test-\(UUID().uuidString.prefix(8).lowercased())"
        let rootfs = work + "/rootfs"
        for directory in ["bin", "proc", "dev", "sys", "tmp"] {
            try FileManager.default.createDirectory(atPath: rootfs + "/" + directory, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: try #require(Self.busybox), toPath: rootfs + "/bin/busybox")
        for tool in ["sh", "dd", "sleep"] { try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + tool, withDestinationPath: "busybox") }
        oci = try OCIDriver(root: work + "/runc", nodeName: "test-node")
        let mib = 1.0 / 1024
        for (id, memory, command) in [
            (busy, 512 * mib, "exec dd if=/dev/zero of=/dev/null bs=16M"),
            (idle, 512 * mib, "exec sleep 1000000"),
            (hungry, 64 * mib, "while :; do dd if=/dev/zero of=/dev/null bs=128M count=1 2>/dev/null; sleep 0.3; done"),
        ] {
            let bundle = work + "/" + id.rawValue
            try OCIBundle.write(at: bundle, rootfs: rootfs, arguments: ["sh", "-c", command], cgroupsPath: "/\(parent)/\(id.rawValue)",
                                allocation: ResourceVector(cpu: 0.3, memory: memory))
            try await oci.create(id, bundle: bundle)
        }
    }

    func tick() async throws { try await Task.sleep(for: .seconds(1)) }

    func tearDown() async {
        for id in [busy, idle, hungry] { try? await oci.remove(id) }
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            rmdir("/sys/fs/cgroup/\(hierarchy)/\(parent)")
        }
        try? FileManager.default.removeItem(atPath: work)
    }

    static func run(_ body: (DriverConformance) async throws -> Void) async throws {
        try await DriverConformance.run(on: try await OCIFixture(), body)
    }
}

let ociUnavailable = OCIFixture.unavailable

@Suite("runc (OCI) driver conformance", .serialized, .enabled(if: ociUnavailable == nil, Comment(rawValue: ociUnavailable ?? "")))
struct OCIDriverTests {
    @Test func inventory() async throws { try await OCIFixture.run { try await $0.inventoryListsTheInstancesWithTheirLimits() } }
    @Test func resize() async throws { try await OCIFixture.run { try await $0.aResizeTakesEffectAndReadsBack() } }
    @Test func refusals() async throws { try await OCIFixture.run { try await $0.whatCannotBeDoneIsRefusedAndChangesNothing() } }
    @Test func throttling() async throws { try await OCIFixture.run { try await $0.aCPUQuotaThrottlesAndTheThrottlingIsMeasured() } }
    @Test func oomKills() async throws { try await OCIFixture.run { try await $0.aMemoryLimitReachedIsAnOOMKillCounted() } }

    @Test func aStoppedContainerIsListedUnhealthy() async throws {
        try await OCIFixture.run { suite in
            let oci = try #require(suite.fixture.driver as? OCIDriver)
            _ = try? await Task.sleep(for: .milliseconds(100))
            #expect(try await oci.signals(of: ["idle"])["idle"]?.healthy == true)
            kill(pid_t(try #require(Int32(String(contentsOfFile: oci.root + "/idle/state.json", encoding: .utf8)
                .split(separator: ",").first { $0.contains("\"init_process_pid\"") }?.split(separator: ":").last ?? ""))), SIGKILL)
            var healthy = true
            for _ in 0..<50 where healthy {
                try await Task.sleep(for: .milliseconds(50))
                healthy = try await oci.signals(of: ["idle"])["idle"]?.healthy ?? false
            }
            #expect(!healthy, "a container whose process died is not healthy")
        }
    }
}
