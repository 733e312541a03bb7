/// Where the cpu, cpuacct and memory controllers are mounted: cgroup v1 with each controller
/// in a hierarchy of its own (or cpu and cpuacct together), or the v2 unified hierarchy.
public struct CgroupLayout: Sendable, Equatable, CustomStringConvertible {
    public enum Version: String, Sendable { case v1, v2 }
    public var version: Version
    /// Mount points; all three are the unified mount under v2.
    public var cpu: String
    public var cpuacct: String
    public var memory: String

    public init(version: Version, cpu: String, cpuacct: String, memory: String) {
        self.version = version
        self.cpu = cpu
        self.cpuacct = cpuacct
        self.memory = memory
    }

    public static func v2(at mount: String) -> CgroupLayout {
        CgroupLayout(version: .v2, cpu: mount, cpuacct: mount, memory: mount)
    }

    public var description: String {
        version == .v2 ? "cgroup v2 at \(cpu)" : "cgroup v1 (cpu at \(cpu), cpuacct at \(cpuacct), memory at \(memory))"
    }

    /// The layout `mounts` (the text of /proc/mounts) describes: v1 when it mounts cpu,
    /// cpuacct and memory, else a v2 mount whose `cgroup.controllers` (read through
    /// `controllers`) lists cpu and memory, else nil.
    public static func detect(mounts: String, controllers: (String) -> String? = CgroupLayout.controllers(at:)) -> CgroupLayout? {
        var v1: [String: String] = [:]
        var unified: [String] = []
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 4 else { continue }
            let point = String(fields[1]), type = fields[2]
            if type == "cgroup" {
                for option in fields[3].split(separator: ",") where ["cpu", "cpuacct", "memory"].contains(String(option)) {
                    v1[String(option)] = point
                }
            } else if type == "cgroup2" {
                unified.append(point)
            }
        }
        if let cpu = v1["cpu"], let cpuacct = v1["cpuacct"], let memory = v1["memory"] {
            return CgroupLayout(version: .v1, cpu: cpu, cpuacct: cpuacct, memory: memory)
        }
        for point in unified {
            let names = (controllers(point) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            if names.contains("cpu"), names.contains("memory") { return .v2(at: point) }
        }
        return nil
    }

    /// The controllers a v2 mount offers, as its `cgroup.controllers` lists them.
    public static func controllers(at mount: String) -> String? { try? ControlFiles.read(mount + "/cgroup.controllers") }

    /// The layout of this machine.
    public static func detect() throws(DriverError) -> CgroupLayout {
        let mounts = try ControlFiles.read("/proc/mounts")
        guard let layout = detect(mounts: mounts) else {
            throw .unavailable("no cgroup hierarchy with the cpu and memory controllers is mounted (v1 needs cpu, cpuacct and memory; v2 needs both in cgroup.controllers)")
        }
        return layout
    }
}
