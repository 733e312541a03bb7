import Drivers
import Foundation
import PoolCore

/// The QEMU driver's nodes and machines (`driver: "qemu"`). `serve` boots each machine listed
/// that runs nowhere yet, on its node with its allocation; one found running (after a restart,
/// perhaps on another node after a migration) is left where it is.
public struct QEMUSettings: Codable, Sendable, Equatable {
    /// A node: a host, or a network namespace standing for one (`scripts/qemu_nodes.sh`).
    public struct NodeSettings: Codable, Sendable, Equatable {
        public var id: String
        /// Cores, GiB, gpus.
        public var capacity: [Double]
        public var reserve: [Double]?
        /// The network namespace its QEMU processes run in; absent: the host's own.
        public var namespace: String?
        /// The address other nodes reach it at (default 127.0.0.1, for nodes without a namespace).
        public var address: String?
        /// What its link carries, megabits a second (default: unknown, 1 GiB/s assumed).
        public var bandwidthMbit: Double?

        public init(id: String, capacity: [Double], reserve: [Double]? = nil, namespace: String? = nil, address: String? = nil,
                    bandwidthMbit: Double? = nil) {
            self.id = id
            self.capacity = capacity
            self.reserve = reserve
            self.namespace = namespace
            self.address = address
            self.bandwidthMbit = bandwidthMbit
        }

        var node: QEMUNode {
            QEMUNode(id: NodeID(id), capacity: vector(capacity), reserve: vector(reserve ?? [0, 0, 0]), namespace: namespace,
                     address: address ?? "127.0.0.1", bandwidth: bandwidthMbit.map { $0 * 125_000 })
        }
    }

    /// A machine to run: what it boots (`QEMUMachine`), where, and with what (cores, GiB; default
    /// its boot vCPUs and all its memory).
    public struct MachineSettings: Codable, Sendable, Equatable {
        public var id: String
        public var node: String
        public var memoryMiB: Int?
        public var cpus: Int?
        public var maxCPUs: Int?
        public var kernel: String
        public var initrd: String
        public var append: String?
        /// `pre-copy` (default) or `stop-and-copy`.
        public var migration: MigrationCostModel.Mode?
        public var allocation: [Double]?

        public init(id: String, node: String, memoryMiB: Int? = nil, cpus: Int? = nil, maxCPUs: Int? = nil, kernel: String, initrd: String,
                    append: String? = nil, migration: MigrationCostModel.Mode? = nil, allocation: [Double]? = nil) {
            self.id = id
            self.node = node
            self.memoryMiB = memoryMiB
            self.cpus = cpus
            self.maxCPUs = maxCPUs
            self.kernel = kernel
            self.initrd = initrd
            self.append = append
            self.migration = migration
            self.allocation = allocation
        }

        var machine: QEMUMachine {
            QEMUMachine(id: InstanceID(id), memoryMiB: memoryMiB ?? 256, cpus: cpus ?? 1, maxCPUs: maxCPUs ?? 4, kernel: kernel, initrd: initrd,
                        append: append ?? "", migration: migration)
        }
    }

    /// Where each machine's files live (see `QEMUDriver`).
    public var runDirectory = "/run/poolswap/qemu"
    /// The parent cgroup of the nodes' cgroups of vCPU threads.
    public var cgroupParent = "poolswap-vm"
    /// The longest a pre-copy migration may pause a guest, and the time a migration's target
    /// has to show a healthy guest, seconds.
    public var downtimeLimitSeconds = 0.3
    public var verificationSeconds = 20.0
    /// A guest whose heartbeat is older than this is not healthy, seconds.
    public var heartbeatTimeoutSeconds = 10.0
    public var nodes: [NodeSettings] = []
    public var machines: [MachineSettings] = []

    public init(nodes: [NodeSettings] = [], machines: [MachineSettings] = []) {
        self.nodes = nodes
        self.machines = machines
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runDirectory = try c.decodeIfPresent(String.self, forKey: .runDirectory) ?? runDirectory
        cgroupParent = try c.decodeIfPresent(String.self, forKey: .cgroupParent) ?? cgroupParent
        downtimeLimitSeconds = try c.decodeIfPresent(Double.self, forKey: .downtimeLimitSeconds) ?? downtimeLimitSeconds
        verificationSeconds = try c.decodeIfPresent(Double.self, forKey: .verificationSeconds) ?? verificationSeconds
        heartbeatTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .heartbeatTimeoutSeconds) ?? heartbeatTimeoutSeconds
        nodes = try c.decodeIfPresent([NodeSettings].self, forKey: .nodes) ?? []
        machines = try c.decodeIfPresent([MachineSettings].self, forKey: .machines) ?? []
    }

    var problem: String? {
        guard !nodes.isEmpty else { return "qemu.nodes must list at least one node" }
        guard Set(nodes.map(\.id)).count == nodes.count else { return "qemu.nodes: two nodes have the same id" }
        for node in nodes {
            guard QEMUDriver.isSafeName(node.id) else { return "qemu.nodes: the id \"\(node.id)\" must be letters, digits, -, _ and . only (it names directories and cgroups)" }
            let reserve = node.reserve ?? [0, 0, 0]
            for (field, amounts) in [("capacity", node.capacity), ("reserve", reserve)]
            where amounts.count != 3 || !amounts.allSatisfy({ $0.isFinite && $0 >= 0 }) {
                return "qemu.nodes.\(node.id).\(field) needs three finite amounts ≥ 0 (cores, GiB, gpus), not \(amounts)"
            }
            if zip(reserve, node.capacity).contains(where: { $0 > $1 }) { return "qemu.nodes.\(node.id).reserve \(reserve) exceeds its capacity \(node.capacity)" }
            if let rate = node.bandwidthMbit, !(rate.isFinite && rate > 0) { return "qemu.nodes.\(node.id).bandwidthMbit must be above 0, not \(rate)" }
        }
        guard Set(machines.map(\.id)).count == machines.count else { return "qemu.machines: two machines have the same id" }
        for machine in machines {
            let field = "qemu.machines.\(machine.id)"
            guard QEMUDriver.isSafeName(machine.id) else { return "qemu.machines: the id \"\(machine.id)\" must be letters, digits, -, _ and . only (it names a directory)" }
            guard let node = nodes.first(where: { $0.id == machine.node }) else { return "\(field).node: no node \(machine.node) in qemu.nodes" }
            let boot = machine.machine
            guard boot.memoryMiB >= 64 else { return "\(field).memoryMiB must be at least 64, not \(boot.memoryMiB)" }
            guard boot.cpus >= 1, boot.maxCPUs >= boot.cpus else { return "\(field): cpus (\(boot.cpus)) must be at least 1 and at most maxCPUs (\(boot.maxCPUs))" }
            for (key, path) in [("kernel", boot.kernel), ("initrd", boot.initrd)] where !FileManager.default.fileExists(atPath: path) {
                return "\(field).\(key): no file \(path)"
            }
            if let amounts = machine.allocation {
                guard amounts.count >= 2, amounts.prefix(2).allSatisfy({ $0.isFinite && $0 > 0 }) else {
                    return "\(field).allocation needs cores and GiB above 0, not \(amounts)"
                }
                if amounts[0] > Double(boot.maxCPUs) { return "\(field).allocation: \(amounts[0]) cores is more than its maxCPUs (\(boot.maxCPUs))" }
                if amounts[1] > Double(boot.memoryMiB) / 1024 { return "\(field).allocation: \(amounts[1]) GiB is more than its memoryMiB (\(boot.memoryMiB) MiB)" }
            }
            let allocation = machine.allocation ?? [Double(boot.cpus), Double(boot.memoryMiB) / 1024]
            let free = zip(node.capacity, node.reserve ?? [0, 0, 0]).map { $0 - $1 }
            if allocation[0] > free[0] || allocation[1] > free[1] {
                return "\(field): \(allocation[0]) cores and \(allocation[1]) GiB do not fit node \(node.id) (\(free[0]) cores, \(free[1]) GiB allocatable)"
            }
        }
        guard ServiceConfiguration.isRelativeCgroupPath(cgroupParent) else {
            return "qemu.cgroupParent must be a relative cgroup path without .., not \(cgroupParent)"
        }
        guard downtimeLimitSeconds.isFinite, downtimeLimitSeconds > 0, downtimeLimitSeconds <= 60 else {
            return "qemu.downtimeLimitSeconds must be above 0 and at most 60, not \(downtimeLimitSeconds)"
        }
        for (field, value) in [("verificationSeconds", verificationSeconds), ("heartbeatTimeoutSeconds", heartbeatTimeoutSeconds)]
        where !(value.isFinite && value > 0) {
            return "qemu.\(field) must be above 0, not \(value)"
        }
        return nil
    }

    /// The driver, with every listed machine that runs nowhere booted: where and as the ledger
    /// last had it (`placed`), else as listed. Its first inventory settles a migration a crash
    /// interrupted, before anything is booted.
    func driver(placed: (String) async -> (node: String, allocation: [Double])?) async throws -> QEMUDriver {
        let driver = try QEMUDriver(runDirectory: runDirectory, nodes: nodes.map(\.node), cgroupParent: cgroupParent,
                                    heartbeatTimeout: heartbeatTimeoutSeconds, downtimeLimit: downtimeLimitSeconds,
                                    verificationSeconds: verificationSeconds)
        let running = Set(try await driver.inventory().instances.map(\.id.rawValue))
        for machine in machines where !running.contains(machine.id) {
            var node = machine.node, allocation = machine.allocation
            if let last = await placed(machine.id), nodes.contains(where: { $0.id == last.node }) {
                node = last.node
                allocation = last.allocation
            }
            try await driver.start(machine.machine, on: NodeID(node), allocation: allocation.map { ResourceVector(cpu: $0[0], memory: $0[1]) })
        }
        return driver
    }
}
