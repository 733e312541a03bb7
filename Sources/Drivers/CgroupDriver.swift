#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PoolCore

/// Instances are the child cgroups of one parent on this host (`/sys/fs/cgroup/<controller>/
/// <parent>/<name>` under v1, `<mount>/<parent>/<name>` under v2), all on one node.
///
/// CPU is the CFS quota (`cpu.cfs_quota_us` over `cpu.cfs_period_us`; v2 `cpu.max`), memory
/// the hard limit (`memory.limit_in_bytes`; v2 `memory.max`). Usage comes from `cpuacct.usage`
/// (v2 `cpu.stat` usage_usec) and the memory charge less inactive file cache; signals from
/// `cpu.stat` (throttling), `memory.failcnt` / `memory.events` and the OOM-kill counter, and
/// PSI under v2. A process belongs to an instance once its pid is in the instance's
/// `cgroup.procs` in every hierarchy (`attach`).
public final class CgroupDriver: InstanceDriver {
    public let name = "cgroup"
    public let capabilities = DriverCapabilities(resizes: [.cpu, .memory], migrates: false, throttling: true)
    public let layout: CgroupLayout
    public let parent: String
    public let node: Node

    /// Uses (and creates, if missing) `parent` in every hierarchy of `layout` (this machine's
    /// by default). The node is `nodeName` with `capacity` (default: this host's cores and
    /// memory; more to overcommit CFS quota), less `reserve`.
    public init(parent: String = "poolswap", nodeName: String? = nil, capacity: ResourceVector? = nil, reserve: ResourceVector = .zero,
                layout: CgroupLayout? = nil) throws(DriverError) {
        guard !parent.isEmpty, !parent.hasPrefix("/"), !parent.split(separator: "/").contains("..") else {
            throw .unavailable("cgroup parent \"\(parent)\" must be a relative path without ..")
        }
        if let layout { self.layout = layout } else { self.layout = try CgroupLayout.detect() }
        self.parent = parent
        for root in Set([self.layout.cpu, self.layout.cpuacct, self.layout.memory]) {
            try ControlFiles.makeDirectories(root + "/" + parent)
        }
        if self.layout.version == .v2 { try Self.enableControllers(mount: self.layout.cpu, down: parent) }
        let hostCapacity: ResourceVector
        if let capacity { hostCapacity = capacity } else { hostCapacity = ResourceVector(cpu: Self.hostCores(), memory: try Self.hostMemory()) }
        let capacity = hostCapacity
        node = Node(id: NodeID(nodeName ?? Self.hostName()), capacity: capacity, reserve: ResourceVector.minimum(reserve, capacity))
    }

    // MARK: Instances

    private func directory(_ root: String, _ id: InstanceID) -> String { "\(root)/\(parent)/\(id.rawValue)" }
    private func cpuPath(_ id: InstanceID, _ file: String) -> String { directory(layout.cpu, id) + "/" + file }
    private func cpuacctPath(_ id: InstanceID, _ file: String) -> String { directory(layout.cpuacct, id) + "/" + file }
    private func memoryPath(_ id: InstanceID, _ file: String) -> String { directory(layout.memory, id) + "/" + file }

    private func exists(_ id: InstanceID) -> Bool {
        ControlFiles.isDirectory(directory(layout.cpu, id)) && ControlFiles.isDirectory(directory(layout.memory, id))
    }

    /// Creates the cgroup of instance `id` in every hierarchy; an existing one is kept.
    public func create(_ id: InstanceID) throws(DriverError) {
        try Self.checkName(id)
        for root in Set([layout.cpu, layout.cpuacct, layout.memory]) { try ControlFiles.makeDirectories(directory(root, id)) }
    }

    /// Removes the cgroup of `id`; its processes must have ended.
    public func remove(_ id: InstanceID) throws(DriverError) {
        for root in Set([layout.cpu, layout.cpuacct, layout.memory]) { try ControlFiles.removeDirectory(directory(root, id)) }
    }

    /// Puts process `pid` (and the threads it starts from now on) into instance `id`.
    public func attach(pid: Int32, to id: InstanceID) throws(DriverError) {
        guard exists(id) else { throw .unknownInstance(id) }
        for root in Set([layout.cpu, layout.cpuacct, layout.memory]) {
            try ControlFiles.write("\(pid)", to: directory(root, id) + "/cgroup.procs")
        }
    }

    /// The `cgroup.procs` files a process writes its own pid into to join instance `id` before
    /// it starts its work (so that what it allocates is charged to the instance).
    public func procsFiles(of id: InstanceID) -> [String] {
        Array(Set([layout.cpu, layout.cpuacct, layout.memory])).sorted().map { directory($0, id) + "/cgroup.procs" }
    }

    /// Pids in the instance now.
    public func processes(of id: InstanceID) throws(DriverError) -> [Int32] {
        guard exists(id) else { throw .unknownInstance(id) }
        return try ControlFiles.read(memoryPath(id, "cgroup.procs")).split(separator: "\n").compactMap { Int32($0) }
    }

    public func inventory() async throws(DriverError) -> DriverInventory {
        let names = Set(ControlFiles.subdirectories("\(layout.cpu)/\(parent)"))
            .intersection(ControlFiles.subdirectories("\(layout.memory)/\(parent)"))
        var instances: [DiscoveredInstance] = []
        for name in names.sorted() {
            let id = InstanceID(name)
            guard let allocation = try? read(id) else { continue }  // removed while listed
            instances.append(DiscoveredInstance(id: id, node: node.id, allocation: allocation))
        }
        return DriverInventory(nodes: [node], instances: instances)
    }

    // MARK: Allocation

    /// The files of instance `id`.
    func files(_ id: InstanceID) -> CgroupDirectory {
        CgroupDirectory(version: layout.version, cpu: directory(layout.cpu, id), cpuacct: directory(layout.cpuacct, id),
                        memory: directory(layout.memory, id))
    }

    private func read(_ id: InstanceID) throws(DriverError) -> ResourceVector { try files(id).allocation() }

    public func allocation(of id: InstanceID) async throws(DriverError) -> ResourceVector {
        guard exists(id) else { throw .unknownInstance(id) }
        return try read(id)
    }

    public func apply(_ allocation: ResourceVector, to id: InstanceID) async throws(DriverError) {
        guard exists(id) else { throw .unknownInstance(id) }
        try files(id).apply(allocation, id: id)
    }

    // MARK: Signals

    public func signals(of ids: [InstanceID]) async throws(DriverError) -> [InstanceID: InstanceSignals] {
        var out: [InstanceID: InstanceSignals] = [:]
        out.reserveCapacity(ids.count)
        for id in ids where exists(id) {
            do {
                out[id] = try files(id).signals()
            } catch {
                if exists(id) { throw error }   // else removed while read: left out
            }
        }
        return out
    }

    public func migrationEstimate(of id: InstanceID, to node: NodeID) async -> MigrationEstimate? { nil }

    public func migrate(_ id: InstanceID, to node: NodeID) async throws(DriverError) {
        throw .refused(id, "cgroups do not move between hosts")
    }

    // MARK: Host

    static func checkName(_ id: InstanceID) throws(DriverError) {
        let name = id.rawValue
        guard !name.isEmpty, name.count <= 200, !name.contains("/"), name != ".", name != "..", !name.hasPrefix("cgroup."),
              !name.contains(where: { $0.isNewline || $0 == " " }) else {
            throw .refused(id, "not a usable cgroup name (1 to 200 characters, no '/', spaces or line breaks)")
        }
    }

    /// Enables cpu and memory for the children of every cgroup from the mount down to `parent`.
    static func enableControllers(mount: String, down parent: String) throws(DriverError) {
        var path = mount
        for part in [""] + parent.split(separator: "/").map(String.init) {
            if !part.isEmpty { path += "/" + part }
            let control = path + "/cgroup.subtree_control"
            let enabled = (try? ControlFiles.read(control)) ?? ""
            if !(enabled.contains("cpu") && enabled.contains("memory")) { try ControlFiles.write("+cpu +memory", to: control) }
        }
    }

    static func hostCores() -> Double { Double(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    static func hostMemory() throws(DriverError) -> Double {
        for line in try ControlFiles.read("/proc/meminfo").split(separator: "\n") where line.hasPrefix("MemTotal:") {
            if let kib = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) { return kib / 1_048_576 }
        }
        throw .io(path: "/proc/meminfo", "no MemTotal line")
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
