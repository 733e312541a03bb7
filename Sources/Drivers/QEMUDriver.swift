#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PoolCore
import Synchronization

/// Instances are QEMU virtual machines on one or more nodes, driven over QMP.
///
/// CPU is a number of vCPUs (hot-plugged within `maxcpus` up to the allocation rounded up;
/// never unplugged, see `plugVCPUs`) and a CFS quota on their threads (`query-cpus-fast` names them), in a cgroup
/// `<cgroupParent>/<node>/<vm>` of the cpu and cpuacct hierarchies; guest CPU time is that
/// cgroup's accounting. Memory is the balloon's target, never below what the guest says it
/// uses (ballooning under it would make the guest kill or panic). Usage from the cgroup and the
/// balloon statistics; OOM kills, reclaim stalls and liveness from the heartbeat the guest
/// writes to its second serial port.
///
/// Each machine has a run directory `<runDirectory>/<vm>`: `vm.json` (what it boots), `node`
/// (where it runs), `allocation.json` (the last allocation applied) and a directory per node it
/// has a QEMU process on (`qmp.sock`, `qemu.pid`, `console.log`, `heartbeat.log`), and while
/// it migrates, `migration` (the target; see `QEMUMigration.swift`).
public final class QEMUDriver: InstanceDriver {
    public let name = "qemu"
    public let capabilities = DriverCapabilities(resizes: [.cpu, .memory], migrates: true, throttling: true)
    public let runDirectory: String
    public let nodes: [QEMUNode]
    public let cgroupParent: String
    /// A guest whose heartbeat is older than this many seconds is not healthy.
    public let heartbeatTimeout: Double
    let qemuPath: String
    let layout: CgroupLayout
    /// The longest a migration may pause a guest (pre-copy), seconds.
    public let downtimeLimit: Double
    /// How long a migration's target has to show a healthy guest, seconds.
    public let verificationSeconds: Double
    /// Machines a long operation holds; their signals are read without QMP meanwhile.
    let busy = Mutex<Set<InstanceID>>([])
    /// Whether the migrations a crash interrupted have been settled (by the first inventory).
    let recovered = Mutex(false)
    /// Each machine's last measured migration input (memory in use, dirty rate) and when:
    /// estimates within `estimateReuseSeconds` of it use it again; a migration measures anew.
    let measuredInputs = Mutex<[InstanceID: (time: Double, input: MigrationCostModel.Input)]>([:])
    public static let estimateReuseSeconds = 30.0

    public init(runDirectory: String = "/run/poolswap/qemu", nodes: [QEMUNode], cgroupParent: String = "poolswap-vm",
                qemu: String = "qemu-system-x86_64", heartbeatTimeout: Double = 10, downtimeLimit: Double = 0.3,
                verificationSeconds: Double = 20) throws(DriverError) {
        guard let path = Command.find(qemu) else { throw .unavailable("\(qemu) not found on PATH: apt-get install qemu-system-x86") }
        guard !nodes.isEmpty, Set(nodes.map(\.id)).count == nodes.count else { throw .unavailable("the QEMU driver needs nodes with distinct ids") }
        for node in nodes where node.namespace != nil && (node.address.hasPrefix("127.") || node.address == "localhost") {
            throw .unavailable("QEMU node \(node.id) runs in namespace \(node.namespace ?? ""): its address must be one other nodes reach, not \(node.address)")
        }
        for node in nodes where !(node.bandwidth.map { $0.isFinite && $0 > 0 } ?? true) {
            throw .unavailable("QEMU node \(node.id): bandwidth must be a finite number of bytes a second above 0")
        }
        guard downtimeLimit.isFinite, downtimeLimit > 0, downtimeLimit <= 60 else { throw .unavailable("downtimeLimit must be above 0 and at most 60 s") }
        qemuPath = path
        self.runDirectory = runDirectory
        self.nodes = nodes
        self.cgroupParent = cgroupParent
        self.heartbeatTimeout = heartbeatTimeout
        self.downtimeLimit = downtimeLimit
        self.verificationSeconds = verificationSeconds
        layout = try CgroupLayout.detect()
        try ControlFiles.makeDirectories(runDirectory)
    }

    // MARK: Files

    func directory(_ id: InstanceID) -> String { "\(runDirectory)/\(id.rawValue)" }
    func directory(_ id: InstanceID, on node: NodeID) -> String { "\(directory(id))/\(node.rawValue)" }
    func qmpSocket(_ id: InstanceID, on node: NodeID) -> String { directory(id, on: node) + "/qmp.sock" }

    func node(_ id: NodeID) throws(DriverError) -> QEMUNode {
        guard let node = nodes.first(where: { $0.id == id }) else { throw .unavailable("no QEMU node \(id)") }
        return node
    }

    /// The machine's definition; unknown when it has none.
    public func machine(_ id: InstanceID) throws(DriverError) -> QEMUMachine {
        let path = directory(id) + "/vm.json"
        guard ControlFiles.exists(path) else { throw .unknownInstance(id) }
        do {
            return try JSONDecoder().decode(QEMUMachine.self, from: Data(try ControlFiles.read(path).utf8))
        } catch let error as DriverError {
            throw error
        } catch {
            throw .io(path: path, "unreadable machine definition: \(error)")
        }
    }

    /// The node the machine runs on, as its run directory says.
    public func location(_ id: InstanceID) throws(DriverError) -> NodeID {
        let path = directory(id) + "/node"
        guard ControlFiles.exists(path) else { throw .unknownInstance(id) }
        let text = try ControlFiles.read(path).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw .io(path: path, "empty") }
        return NodeID(text)
    }

    func writeAtomically(_ text: String, to path: String) throws(DriverError) {
        try ControlFiles.write(text, to: path + ".tmp", create: true)
        guard rename(path + ".tmp", path) == 0 else { throw .io(path: path, "cannot replace: \(ControlFiles.errnoText())") }
    }

    /// The pid of the QEMU process of `id` on `node` while it runs, else nil.
    func pid(_ id: InstanceID, on node: NodeID) -> pid_t? {
        guard let text = try? ControlFiles.read(directory(id, on: node) + "/qemu.pid"),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        guard let stat = try? ControlFiles.read("/proc/\(pid)/stat"), stat.contains("(qemu-system") else { return nil }
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        // A stale pid file whose pid was reused by another machine is not this one.
        guard state != "Z", let command = try? ControlFiles.read("/proc/\(pid)/cmdline"),
              command.contains(directory(id, on: node) + "/qemu.pid") else { return nil }
        return pid
    }

    func cgroup(_ id: InstanceID, on node: NodeID) -> CgroupDirectory {
        let relative = "\(cgroupParent)/\(node.rawValue)/\(id.rawValue)"
        return CgroupDirectory(version: layout.version, cpu: layout.cpu + "/" + relative, cpuacct: layout.cpuacct + "/" + relative,
                               memory: layout.memory + "/" + relative)
    }

    // MARK: Starting and stopping

    /// Boots `machine` on `node` with `allocation` (default: its boot vCPUs, all its memory) and
    /// returns once QEMU answers on QMP. An id already running is refused.
    public func start(_ machine: QEMUMachine, on nodeID: NodeID, allocation: ResourceVector? = nil) async throws(DriverError) {
        let node = try node(nodeID)
        let id = machine.id
        guard Self.isSafeName(id.rawValue) else { throw .refused(id, "a machine id is letters, digits, -, _ and . only") }
        if let running = nodes.first(where: { pid(id, on: $0.id) != nil }) { throw .refused(id, "already running on \(running.id)") }
        guard machine.cpus >= 1, machine.maxCPUs >= machine.cpus, machine.memoryMiB >= 64 else {
            throw .refused(id, "a machine needs 1 <= cpus <= maxCPUs and at least 64 MiB")
        }
        let here = directory(id, on: nodeID)
        try ControlFiles.makeDirectories(here)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let definition: Data
        do { definition = try encoder.encode(machine) } catch { throw .io(path: directory(id) + "/vm.json", "\(error)") }
        try writeAtomically(String(decoding: definition, as: UTF8.self), to: directory(id) + "/vm.json")
        try writeAtomically(nodeID.rawValue, to: directory(id) + "/node")
        let target = allocation ?? ResourceVector(cpu: Double(machine.cpus), memory: Double(machine.memoryMiB) / 1024)
        do {
            try await launch(machine, node: node, incoming: false, pluggedSockets: [])
            try await place(id, on: nodeID, cores: target.cpu)
            try await plugVCPUs(Self.vcpus(for: target.cpu, machine), machine: machine, on: nodeID)
            try cgroup(id, on: nodeID).writeCPU(target.cpu)
        } catch {
            try? await stop(id)
            throw error
        }
        // The balloon once the guest reports what it uses.
        if target.memory < Double(machine.memoryMiB) / 1024 {
            for _ in 0..<300 where (try? await guestMemory(id, on: nodeID)) == nil { try? await Task.sleep(for: .milliseconds(200)) }
            do {
                try await apply(target, to: id)
            } catch {
                try? await stop(id)
                throw error
            }
        }
        try writeAtomically(Self.encoded(target), to: directory(id) + "/allocation.json")
    }

    /// Whether `name` may name a machine or node: it becomes a directory and a cgroup (letters,
    /// digits, -, _ and ., not empty, not starting with .).
    public static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
    }

    /// vCPUs for `cores`: rounded up, within the machine's boot and most vCPUs.
    static func vcpus(for cores: Double, _ machine: QEMUMachine) -> Int {
        min(machine.maxCPUs, max(machine.cpus, Int((cores - 1e-9).rounded(.up))))
    }

    static func encoded(_ allocation: ResourceVector) -> String {
        (try? JSONEncoder().encode(allocation)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Runs QEMU for `machine` in `node`'s namespace, daemonized; returns once its QMP socket
    /// answers and the balloon reports guest statistics every 2 s.
    func launch(_ machine: QEMUMachine, node: QEMUNode, incoming: Bool, pluggedSockets: [Int]) async throws(DriverError) {
        let here = directory(machine.id, on: node.id)
        try ControlFiles.makeDirectories(here)
        for file in ["qmp.sock", "qemu.pid"] { unlink(here + "/" + file) }
        let arguments = machine.arguments(directory: here, incoming: incoming, pluggedSockets: pluggedSockets)
        if let namespace = node.namespace {
            guard let ip = Command.find("ip") else { throw .unavailable("ip not found: apt-get install iproute2") }
            _ = try await Command.run(ip, ["netns", "exec", namespace, qemuPath] + arguments)
        } else {
            _ = try await Command.run(qemuPath, arguments)
        }
        _ = try await qmp(machine.id, on: node.id) { client throws(QMPError) in
            try client.execute("qom-set", ["path": "/machine/peripheral/balloon0", "property": "guest-stats-polling-interval", "value": 2])
        }
    }

    /// Puts the machine's vCPU threads on `node` into its cgroup there, with the quota for
    /// `cores`. Threads already in it stay.
    func place(_ id: InstanceID, on node: NodeID, cores: Double) async throws(DriverError) {
        let group = cgroup(id, on: node)
        for path in Set([group.cpu, group.cpuacct]) { try ControlFiles.makeDirectories(path) }
        try group.writeCPU(cores)
        let threads = try await vcpuThreads(id, on: node)
        switch layout.version {
        case .v1:
            for thread in threads.values {
                for path in Set([group.cpu, group.cpuacct]) { try ControlFiles.write("\(thread)", to: path + "/tasks") }
            }
        case .v2:
            // No threaded cgroups here: the whole process is limited, emulation included.
            guard let pid = pid(id, on: node) else { throw .refused(id, "its QEMU process on \(node) is not running") }
            try ControlFiles.write("\(pid)", to: group.cpu + "/cgroup.procs")
        }
    }

    /// Socket id to host thread id of each vCPU.
    func vcpuThreads(_ id: InstanceID, on node: NodeID) async throws(DriverError) -> [Int: Int] {
        let answer = try await qmp(id, on: node) { client throws(QMPError) in try client.execute("query-cpus-fast") }
        var threads: [Int: Int] = [:]
        for cpu in answer.array ?? [] {
            if let socket = cpu["props"]?["socket-id"]?.integer, let thread = cpu["thread-id"]?.integer { threads[Int(socket)] = Int(thread) }
        }
        return threads
    }

    /// Stops the machine wherever it runs (QMP `quit`, then SIGKILL after 3 s) and removes its
    /// run directory and cgroups.
    public func stop(_ id: InstanceID) async throws(DriverError) {
        for node in nodes {
            if pid(id, on: node.id) != nil {
                _ = try? await qmp(id, on: node.id, timeout: 5) { client throws(QMPError) in try client.execute("quit") }
                for _ in 0..<30 where pid(id, on: node.id) != nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            guard await discard(id, on: node.id) else { throw .refused(id, "its QEMU on \(node.id) outlived SIGKILL; its run directory is kept") }
        }
        try? FileManager.default.removeItem(atPath: directory(id))
    }

    // MARK: QMP

    /// Runs `body` on a fresh QMP connection to the machine's QEMU on `node`.
    func qmp<T: Sendable>(_ id: InstanceID, on node: NodeID, timeout: Double = 10,
                          _ body: @escaping @Sendable (QMPClient) throws(QMPError) -> T) async throws(DriverError) -> T {
        do {
            return try await QMPClient.run(qmpSocket(id, on: node), timeout: timeout, body)
        } catch {
            throw .refused(id, error.description)
        }
    }

    func isBusy(_ id: InstanceID) -> Bool { busy.withLock { $0.contains(id) } }

    /// Marks `id` busy for one operation (`what`); refused while another holds it. Meanwhile its
    /// signals and allocation are read without QMP, which serves one client at a time.
    func claim(_ id: InstanceID, for what: String) throws(DriverError) {
        let taken = busy.withLock { $0.insert(id).inserted }
        guard taken else { throw .refused(id, "busy: another operation (a migration or a resize) holds it; \(what) waits for the next round") }
    }

    func release(_ id: InstanceID) { busy.withLock { _ = $0.remove(id) } }

    /// Runs `body` with `id` claimed.
    func whileBusy<T>(_ id: InstanceID, _ body: () async throws(DriverError) -> T) async throws(DriverError) -> T {
        try claim(id, for: "a resize")
        defer { release(id) }
        return try await body()
    }

    // MARK: InstanceDriver

    public func inventory() async throws(DriverError) -> DriverInventory {
        if recovered.withLock({ done in defer { done = true }; return !done }) { await recoverMigrations() }
        var instances: [DiscoveredInstance] = []
        for name in ControlFiles.subdirectories(runDirectory) {
            let id = InstanceID(name)
            guard let node = try? location(id), pid(id, on: node) != nil else { continue }
            instances.append(DiscoveredInstance(id: id, node: node, allocation: try await allocation(of: id)))
        }
        return DriverInventory(nodes: nodes.map(\.node), instances: instances)
    }

    public func allocation(of id: InstanceID) async throws(DriverError) -> ResourceVector {
        let node = try location(id)
        guard pid(id, on: node) != nil else { throw .unknownInstance(id) }
        if isBusy(id), let applied = appliedAllocation(id) {
            return ResourceVector(cpu: try cgroup(id, on: node).cores(), memory: applied.memory, gpu: 0)
        }
        return try await liveAllocation(id, on: node)
    }

    /// The quota and the balloon's actual size, read now.
    func liveAllocation(_ id: InstanceID, on node: NodeID) async throws(DriverError) -> ResourceVector {
        let cores = try cgroup(id, on: node).cores()
        let balloon = try await qmp(id, on: node) { client throws(QMPError) in try client.execute("query-balloon") }
        guard let actual = balloon["actual"]?.double else { throw .refused(id, "query-balloon gave no actual size: \(balloon)") }
        return ResourceVector(cpu: cores, memory: actual / 1_073_741_824, gpu: 0)
    }

    /// The allocation last applied, as recorded in the run directory.
    func appliedAllocation(_ id: InstanceID) -> ResourceVector? {
        guard let text = try? ControlFiles.read(directory(id) + "/allocation.json") else { return nil }
        return try? JSONDecoder().decode(ResourceVector.self, from: Data(text.utf8))
    }

    public func apply(_ allocation: ResourceVector, to id: InstanceID) async throws(DriverError) {
        let machine = try machine(id)
        let node = try location(id)
        guard pid(id, on: node) != nil else { throw .unknownInstance(id) }
        guard allocation.gpu == 0 else { throw .refused(id, "a QEMU machine here has no gpu to allocate (asked for \(formatAmount(allocation.gpu)))") }
        guard allocation.cpu.isFinite, allocation.cpu > 0, allocation.memory.isFinite, allocation.memory > 0 else {
            throw .refused(id, "allocation \(allocation) is not a finite amount above 0")
        }
        let size = Double(machine.memoryMiB) / 1024
        guard allocation.memory <= size + 1e-9 else {
            throw .refused(id, "memory \(formatAmount(allocation.memory)) GiB is more than the \(formatAmount(size)) GiB it was started with")
        }
        guard Double(machine.maxCPUs) + 1e-9 >= allocation.cpu else {
            throw .refused(id, "cpu \(formatAmount(allocation.cpu)) is more than its \(machine.maxCPUs) vCPUs at most")
        }
        try await whileBusy(id) { () async throws(DriverError) in
            let before = try await liveAllocation(id, on: node)
            if allocation.memory < before.memory - 1e-9 {
                let needed = try await guestMemory(id, on: node).workingSet + Self.memoryMargin
                if allocation.memory < needed {
                    throw .refused(id, "memory \(formatAmount(allocation.memory)) GiB is below the working set of \(formatAmount(needed)) GiB the guest reports (kernel and a 16 MiB margin included): ballooning under it would make the guest kill or panic")
                }
            }
            let group = cgroup(id, on: node)
            try await plugVCPUs(Self.vcpus(for: allocation.cpu, machine), machine: machine, on: node)
            try group.writeCPU(allocation.cpu)
            if abs(allocation.memory - before.memory) > 1e-9 {
                do {
                    try await balloon(id, on: node, to: allocation.memory)
                } catch {
                    var restored = "restored"
                    do { try await balloon(id, on: node, to: before.memory) } catch { restored = "and restoring \(formatAmount(before.memory)) GiB failed too: \(error)" }
                    do { try group.writeCPU(before.cpu) } catch { restored += "; the cpu quota could not be restored: \(error)" }
                    throw .refused(id, "\(error) (\(restored))")
                }
            }
            try writeAtomically(Self.encoded(allocation), to: directory(id) + "/allocation.json")
        }
    }

    /// Memory a guest keeps beyond its working set, GiB: ballooning closer makes it reclaim hard.
    static let memoryMargin = 16.0 / 1024

    /// Plugs vCPUs until at least `count` are present and puts their threads into the machine's
    /// cgroup. None is unplugged: Debian's QEMU 7.2 under TCG corrupts its heap when a vCPU is
    /// unplugged (it aborts at the next hotplug or soon after: measured here), so a smaller
    /// allocation keeps its vCPUs and is held by the quota alone.
    func plugVCPUs(_ count: Int, machine: QEMUMachine, on node: NodeID) async throws(DriverError) {
        let id = machine.id
        let present = try await vcpuThreads(id, on: node)
        guard present.count < count else { return }
        let cores = try cgroup(id, on: node).cores()
        for socket in (0..<machine.maxCPUs).filter({ present[$0] == nil }).prefix(count - present.count) {
            let type = machine.cpuType
            _ = try await qmp(id, on: node) { client throws(QMPError) in
                try client.execute("device_add", ["driver": .string(type), "id": .string(QEMUMachine.cpuDevice(socket: socket)),
                                                  "socket-id": .integer(Int64(socket)), "core-id": 0, "thread-id": 0])
            }
            // Each new vCPU thread is limited before the next is added.
            try await place(id, on: node, cores: cores)
        }
    }

    /// Sets the balloon so that the guest has `gibibytes`, and waits until it has.
    func balloon(_ id: InstanceID, on node: NodeID, to gibibytes: Double) async throws(DriverError) {
        let target = Int64((gibibytes * 1_073_741_824).rounded(.down)) / 4_096 * 4_096
        let reached = try await qmp(id, on: node) { client throws(QMPError) -> Double? in
            try client.execute("balloon", ["value": .integer(target)])
            let deadline = QMPClient.now() + 20
            while QMPClient.now() < deadline {
                let actual = try client.execute("query-balloon")["actual"]?.double ?? -1
                if abs(actual - Double(target)) < 1_048_576 { return nil }
                usleep(100_000)
            }
            return try client.execute("query-balloon")["actual"]?.double ?? -1
        }
        if let reached {
            throw .refused(id, "the balloon reached \(formatAmount(reached / 1_073_741_824)) GiB, not \(formatAmount(gibibytes)) GiB, in 20 s")
        }
    }

    /// What the guest reports in use (balloon statistics; the heartbeat when they are missing).
    func guestMemory(_ id: InstanceID, on node: NodeID) async throws(DriverError) -> (used: Double, workingSet: Double) {
        let (stats, balloon) = try await qmp(id, on: node) { client throws(QMPError) in
            (try client.execute("qom-get", ["path": "/machine/peripheral/balloon0", "property": "guest-stats"]), try client.execute("query-balloon"))
        }
        if let figures = Self.memoryFigures(stats, actual: balloon["actual"]?.double) { return figures }
        guard let beat = try heartbeat(id, on: node)?.beat else { throw .refused(id, "the guest reports no memory figures yet") }
        let used = Double(beat.usedKiB) / 1_048_576
        return (used, used)
    }

    /// Memory in use (what the guest has less what is free) and the working set (less what is
    /// available), GiB, from the balloon's `guest-stats` and its `actual` size in bytes: what
    /// the kernel keeps for itself (the guest's MemTotal leaves it out) counts as used. Nil
    /// until the guest has reported them.
    static func memoryFigures(_ stats: JSONValue, actual: Double?) -> (used: Double, workingSet: Double)? {
        let figure = { (name: String) -> Double? in
            guard let value = stats["stats"]?[name]?.double, value >= 0 else { return nil }
            return value / 1_073_741_824
        }
        guard let total = figure("stat-total-memory"), let available = figure("stat-available-memory"),
              let free = figure("stat-free-memory") else { return nil }
        let has = max(total, (actual ?? 0) / 1_073_741_824)
        return (has - free, has - available)
    }

    /// The guest's last heartbeat on `node` and its age, seconds.
    func heartbeat(_ id: InstanceID, on node: NodeID) throws(DriverError) -> (beat: GuestHeartbeat, age: Double)? {
        guard let tail = try ControlFiles.tail(directory(id, on: node) + "/heartbeat.log", bytes: 1_024),
              let beat = GuestHeartbeat.last(in: tail.text) else { return nil }
        return (beat, ControlFiles.wallSeconds() - tail.modified)
    }

    /// Machines whose files cannot be read are left out, as are unknown ones.
    public func signals(of ids: [InstanceID]) async throws(DriverError) -> [InstanceID: InstanceSignals] {
        var out: [InstanceID: InstanceSignals] = [:]
        for id in ids {
            guard let node = try? location(id) else { continue }
            out[id] = try? await signals(of: id, on: node)
        }
        return out
    }

    func signals(of id: InstanceID, on node: NodeID) async throws(DriverError) -> InstanceSignals {
        let running = pid(id, on: node) != nil
        var signals = InstanceSignals(time: ControlFiles.monotonicSeconds(), healthy: false)
        let group = cgroup(id, on: node)
        if ControlFiles.isDirectory(group.cpu) { try group.readCPU(into: &signals) }
        let beat = try heartbeat(id, on: node)
        if let beat {
            signals.oomKills = beat.beat.oomKills
            signals.memoryFailures = beat.beat.reclaimStalls
            signals.memory = Double(beat.beat.usedKiB) / 1_048_576
            signals.workingSet = signals.memory
        }
        var status = running ? "running" : "stopped"
        if running, !isBusy(id) {
            let answer = try? await qmp(id, on: node, timeout: 5) { client throws(QMPError) in
                (try client.execute("query-status", timeout: 5),
                 try client.execute("qom-get", ["path": "/machine/peripheral/balloon0", "property": "guest-stats"], timeout: 5),
                 try client.execute("query-balloon", timeout: 5))
            }
            if let (state, stats, balloon) = answer {
                status = state["status"]?.string ?? "unknown"
                if let figures = Self.memoryFigures(stats, actual: balloon["actual"]?.double) { (signals.memory, signals.workingSet) = figures }
            } else {
                status = "unanswering"
            }
        }
        // While busy (a resize or a migration holds QMP) the process and the heartbeat say it.
        signals.healthy = running && (status == "running" || isBusy(id)) && (beat.map { $0.age <= heartbeatTimeout } ?? false)
        return signals
    }
}
