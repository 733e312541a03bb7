import PoolCore

/// A virtual machine as the QEMU driver starts it: its memory size, the most vCPUs it may
/// have, and what it boots. Stored as `vm.json` in its run directory, so that a restarted
/// driver (or a migration's destination) starts the same machine.
public struct QEMUMachine: Sendable, Equatable, Codable {
    public var id: InstanceID
    /// Memory the machine is started with, MiB: the most the balloon can give it.
    public var memoryMiB: Int
    /// vCPUs at boot and the most it may have (`-smp 1,maxcpus=`); more are hot-plugged.
    public var cpus: Int
    public var maxCPUs: Int
    /// Paths of the kernel and initramfs (`-kernel`, `-initrd`) and its command line.
    public var kernel: String
    public var initrd: String
    public var append: String
    public var machineType: String
    public var cpuModel: String
    /// How it moves between nodes; nil: pre-copy.
    public var migration: MigrationCostModel.Mode?

    public init(id: InstanceID, memoryMiB: Int = 256, cpus: Int = 1, maxCPUs: Int = 4, kernel: String, initrd: String, append: String = "",
                machineType: String = "pc-i440fx-7.2", cpuModel: String = "qemu64", migration: MigrationCostModel.Mode? = nil) {
        self.id = id
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.maxCPUs = maxCPUs
        self.kernel = kernel
        self.initrd = initrd
        self.append = append
        self.machineType = machineType
        self.cpuModel = cpuModel
        self.migration = migration
    }

    /// The QOM type of its hot-pluggable CPUs.
    public var cpuType: String { "\(cpuModel)-x86_64-cpu" }

    /// The device id the driver gives the CPU it plugs into socket `socket`.
    static func cpuDevice(socket: Int) -> String { "cpu-\(socket)" }

    /// The command line starting it in `directory` (QMP socket, consoles, pid file there), under
    /// TCG. `incoming`: started paused waiting for a migration (`-incoming defer`), with the CPUs
    /// the source has plugged in `sockets` plugged here too, as migration requires.
    func arguments(directory: String, incoming: Bool = false, pluggedSockets: [Int] = []) -> [String] {
        var arguments = [
            "-name", "\(id.rawValue),debug-threads=on",
            "-machine", machineType,
            "-accel", "tcg,thread=multi,tb-size=64",
            "-cpu", cpuModel,
            "-m", "\(memoryMiB)M",
            "-smp", "\(cpus),maxcpus=\(maxCPUs),sockets=\(maxCPUs),cores=1,threads=1",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 panic=0 \(append)",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-device", "virtio-balloon-pci,id=balloon0",
            "-device", "pvpanic",
            "-action", "panic=pause",
            "-chardev", "file,id=console0,path=\(directory)/console.log",
            "-serial", "chardev:console0",
            "-chardev", "file,id=heartbeat0,path=\(directory)/heartbeat.log",
            "-serial", "chardev:heartbeat0",
            "-qmp", "unix:\(directory)/qmp.sock,server=on,wait=off",
            "-pidfile", "\(directory)/qemu.pid",
            "-daemonize",
        ]
        for socket in pluggedSockets {
            arguments += ["-device", "\(cpuType),id=\(Self.cpuDevice(socket: socket)),socket-id=\(socket),core-id=0,thread-id=0"]
        }
        if incoming { arguments += ["-incoming", "defer"] }
        return arguments
    }
}
