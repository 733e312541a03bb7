import Foundation
import PoolCore

/// Instances are OCI containers run by runc under one runc state directory (`root`), all on
/// this host. Resized live with `runc update` (CFS quota and period, memory limit), the
/// operation behind Kubernetes' in-place pod resize (CRI `UpdateContainerResources`); usage
/// from `runc events --stats`; the limits in effect and the OOM-kill counter from the cgroup
/// runc made for the container (its `state.json` names it).
public final class OCIDriver: InstanceDriver {
    public let name = "oci"
    public let capabilities = DriverCapabilities(resizes: [.cpu, .memory], migrates: false, throttling: true)
    public let root: String
    public let node: Node
    let runcPath: String
    let layout: CgroupLayout

    /// `root`: runc's state directory; every container in it is an instance.
    public init(root: String = "/run/poolswap/runc", runc: String = "runc",
                nodeName: String? = nil, capacity: ResourceVector? = nil, reserve: ResourceVector = .zero) throws(DriverError) {
        guard let path = Command.find(runc) else { throw .unavailable("runc not found (looked for \(runc) on PATH): apt-get install runc") }
        runcPath = path
        self.root = root
        layout = try CgroupLayout.detect()
        try ControlFiles.makeDirectories(root)
        let hostCapacity: ResourceVector
        if let capacity { hostCapacity = capacity } else { hostCapacity = ResourceVector(cpu: CgroupDriver.hostCores(), memory: try CgroupDriver.hostMemory()) }
        let capacity = hostCapacity
        node = Node(id: NodeID(nodeName ?? CgroupDriver.hostName()), capacity: capacity, reserve: ResourceVector.minimum(reserve, capacity))
    }

    @discardableResult
    func runc(_ arguments: [String]) async throws(DriverError) -> String {
        try await Command.run(runcPath, ["--root", root] + arguments)
    }

    private struct Listed: Decodable {
        var id: String
        var status: String
    }

    /// Containers in `root` and their status (running, created, paused, stopped).
    func containers() async throws(DriverError) -> [(id: InstanceID, status: String)] {
        let text = try await runc(["list", "--format", "json"])
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed != "null" else { return [] }
        do {
            return try JSONDecoder().decode([Listed].self, from: Data(trimmed.utf8)).map { (InstanceID($0.id), $0.status) }
        } catch {
            throw .command("runc list --format json", status: 0, output: "unreadable answer: \(trimmed.prefix(200))")
        }
    }

    private struct State: Decodable {
        var cgroup_paths: [String: String]
    }

    /// The cgroup runc made for container `id`.
    func directory(_ id: InstanceID) throws(DriverError) -> CgroupDirectory {
        let path = "\(root)/\(id.rawValue)/state.json"
        guard ControlFiles.exists(path) else { throw .unknownInstance(id) }
        let state: State
        do {
            state = try JSONDecoder().decode(State.self, from: Data(try ControlFiles.read(path).utf8))
        } catch let error as DriverError {
            throw error
        } catch {
            throw .io(path: path, "unreadable runc state: \(error)")
        }
        let paths = state.cgroup_paths
        switch layout.version {
        case .v1:
            guard let cpu = paths["cpu"], let cpuacct = paths["cpuacct"], let memory = paths["memory"] else {
                throw .io(path: path, "no cpu, cpuacct and memory cgroup paths")
            }
            return CgroupDirectory(version: .v1, cpu: cpu, cpuacct: cpuacct, memory: memory)
        case .v2:
            guard let unified = paths[""] else { throw .io(path: path, "no unified cgroup path") }
            return CgroupDirectory(version: .v2, cpu: unified, cpuacct: unified, memory: unified)
        }
    }

    // MARK: Containers

    /// Runs a container from `bundle` (a directory with `config.json`, see `OCIBundle`), detached.
    public func create(_ id: InstanceID, bundle: String) async throws(DriverError) {
        try CgroupDriver.checkName(id)
        try await runc(["run", "--detach", "--bundle", bundle, id.rawValue])
    }

    /// Kills and deletes container `id`.
    public func remove(_ id: InstanceID) async throws(DriverError) {
        _ = try? await runc(["kill", id.rawValue, "KILL"])
        try await runc(["delete", "--force", id.rawValue])
    }

    // MARK: Driver

    public func inventory() async throws(DriverError) -> DriverInventory {
        var instances: [DiscoveredInstance] = []
        for (id, _) in try await containers() {
            guard let allocation = try? directory(id).allocation() else { continue }
            instances.append(DiscoveredInstance(id: id, node: node.id, allocation: allocation))
        }
        return DriverInventory(nodes: [node], instances: instances)
    }

    public func allocation(of id: InstanceID) async throws(DriverError) -> ResourceVector {
        try directory(id).allocation()
    }

    public func apply(_ allocation: ResourceVector, to id: InstanceID) async throws(DriverError) {
        let files = try directory(id)
        let current = try files.check(allocation, id: id)
        var arguments = ["update"]
        if allocation.cpu != current.cpu {
            arguments += ["--cpu-period", "\(CgroupDirectory.period)", "--cpu-quota", "\(CgroupDirectory.quota(allocation.cpu) ?? -1)"]
        }
        if allocation.memory != current.memory {
            arguments += ["--memory", "\(CgroupDirectory.limitBytes(allocation.memory) ?? -1)"]
        }
        guard arguments.count > 1 else { return }
        do {
            try await runc(arguments + [id.rawValue])
        } catch {
            // runc sets the limits one after another; put back any it set before the refusal.
            if (try? files.allocation()) != current {
                try? await runc(["update", "--cpu-period", "\(CgroupDirectory.period)", "--cpu-quota", "\(CgroupDirectory.quota(current.cpu) ?? -1)",
                           "--memory", "\(CgroupDirectory.limitBytes(current.memory) ?? -1)", id.rawValue])
            }
            throw .refused(id, "runc update: \(error)")
        }
    }

    private struct Stats: Decodable {
        struct Body: Decodable {
            struct CPU: Decodable {
                struct Usage: Decodable { var total: UInt64? }
                struct Throttling: Decodable { var throttledPeriods: UInt64?; var throttledTime: UInt64? }
                var usage: Usage?
                var throttling: Throttling?
            }
            struct Memory: Decodable {
                struct Usage: Decodable { var usage: UInt64?; var failcnt: UInt64? }
                var usage: Usage?
                var raw: [String: UInt64]?
            }
            var cpu: CPU?
            var memory: Memory?
        }
        var data: Body
    }

    public func signals(of ids: [InstanceID]) async throws(DriverError) -> [InstanceID: InstanceSignals] {
        let status = Dictionary(try await containers().map { ($0.id, $0.status) }, uniquingKeysWith: { a, _ in a })
        var out: [InstanceID: InstanceSignals] = [:]
        for id in ids {
            guard let state = status[id], let files = try? directory(id) else { continue }
            var signals = InstanceSignals(time: ControlFiles.monotonicSeconds(), healthy: state == "running")
            if state == "running" {
                // One container that stops between the list and here, or answers nonsense, has no
                // signals this round; the others still do.
                guard let text = try? await runc(["events", "--stats", id.rawValue]),
                      let stats = try? JSONDecoder().decode(Stats.self, from: Data(text.utf8)) else { continue }
                let cpu = stats.data.cpu, memory = stats.data.memory
                signals.cpuSeconds = Double(cpu?.usage?.total ?? 0) * 1e-9
                signals.throttledSeconds = Double(cpu?.throttling?.throttledTime ?? 0) * 1e-9
                signals.throttledPeriods = Int(cpu?.throttling?.throttledPeriods ?? 0)
                let usage = Double(memory?.usage?.usage ?? 0)
                let inactive = Double(memory?.raw?["total_inactive_file"] ?? memory?.raw?["inactive_file"] ?? 0)
                signals.memory = usage / CgroupDirectory.gibibyte
                signals.workingSet = max(0, usage - inactive) / CgroupDirectory.gibibyte
                signals.memoryFailures = Int(memory?.usage?.failcnt ?? 0)
            }
            signals.oomKills = (try? files.oomKills()) ?? 0
            out[id] = signals
        }
        return out
    }

    public func migrationEstimate(of id: InstanceID, to node: NodeID) async -> MigrationEstimate? { nil }

    public func migrate(_ id: InstanceID, to node: NodeID) async throws(DriverError) {
        throw .refused(id, "runc containers are not moved between hosts here (CRIU checkpointing does not work on this kernel)")
    }
}

/// Writes the `config.json` of an OCI bundle: runc's own default spec (`runc spec`) with the
/// given root filesystem, command, cgroup and limits, no terminal.
public enum OCIBundle {
    public static func write(at bundle: String, rootfs: String, arguments: [String], cgroupsPath: String,
                             allocation: ResourceVector, runc: String = "runc") throws(DriverError) {
        guard let runcPath = Command.find(runc) else { throw .unavailable("runc not found on PATH: apt-get install runc") }
        try ControlFiles.makeDirectories(bundle)
        let configPath = bundle + "/config.json"
        try? FileManager.default.removeItem(atPath: configPath)
        _ = try Command.runBlocking(runcPath, ["spec", "--bundle", bundle])
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: configPath))
            guard var spec = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                  var process = spec["process"] as? [String: Any], var linux = spec["linux"] as? [String: Any] else {
                throw DriverError.io(path: configPath, "runc spec wrote no process or linux section")
            }
            process["terminal"] = false
            process["args"] = arguments
            spec["process"] = process
            spec["root"] = ["path": rootfs, "readonly": true]
            var resources: [String: Any] = [:]
            if let quota = CgroupDirectory.quota(allocation.cpu) { resources["cpu"] = ["quota": quota, "period": CgroupDirectory.period] }
            if let bytes = CgroupDirectory.limitBytes(allocation.memory) { resources["memory"] = ["limit": bytes] }
            linux["resources"] = resources
            linux["cgroupsPath"] = cgroupsPath
            spec["linux"] = linux
            try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: configPath))
        } catch let error as DriverError {
            throw error
        } catch {
            throw .io(path: configPath, "cannot write the bundle's config: \(error)")
        }
    }
}
