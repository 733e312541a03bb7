/// An amount of every resource: cpu in cores, memory in GiB, gpu in whole devices.
public struct ResourceVector: Sendable, Hashable, Codable, CustomStringConvertible {
    public var cpu: Double
    public var memory: Double
    public var gpu: Double

    public init(cpu: Double = 0, memory: Double = 0, gpu: Double = 0) {
        self.cpu = cpu
        self.memory = memory
        self.gpu = gpu
    }

    public static let zero = ResourceVector()

    public subscript(resource: Resource) -> Double {
        get {
            switch resource {
            case .cpu: cpu
            case .memory: memory
            case .gpu: gpu
            }
        }
        set {
            switch resource {
            case .cpu: cpu = newValue
            case .memory: memory = newValue
            case .gpu: gpu = newValue
            }
        }
    }

    public static func + (lhs: Self, rhs: Self) -> Self {
        Self(cpu: lhs.cpu + rhs.cpu, memory: lhs.memory + rhs.memory, gpu: lhs.gpu + rhs.gpu)
    }

    public static func - (lhs: Self, rhs: Self) -> Self {
        Self(cpu: lhs.cpu - rhs.cpu, memory: lhs.memory - rhs.memory, gpu: lhs.gpu - rhs.gpu)
    }

    public static func += (lhs: inout Self, rhs: Self) { lhs = lhs + rhs }
    public static func -= (lhs: inout Self, rhs: Self) { lhs = lhs - rhs }

    public static func * (lhs: Self, factor: Double) -> Self {
        Self(cpu: lhs.cpu * factor, memory: lhs.memory * factor, gpu: lhs.gpu * factor)
    }

    /// The componentwise minimum.
    public static func minimum(_ a: Self, _ b: Self) -> Self {
        Self(cpu: min(a.cpu, b.cpu), memory: min(a.memory, b.memory), gpu: min(a.gpu, b.gpu))
    }

    /// The componentwise maximum.
    public static func maximum(_ a: Self, _ b: Self) -> Self {
        Self(cpu: max(a.cpu, b.cpu), memory: max(a.memory, b.memory), gpu: max(a.gpu, b.gpu))
    }

    /// True when every component is at most the other's.
    public func fits(within other: Self) -> Bool {
        cpu <= other.cpu && memory <= other.memory && gpu <= other.gpu
    }

    /// True when every component is finite.
    public var isFinite: Bool { cpu.isFinite && memory.isFinite && gpu.isFinite }

    public var description: String {
        "cpu \(formatAmount(cpu)) cores, memory \(formatAmount(memory)) GiB, gpu \(formatAmount(gpu))"
    }
}

/// An amount printed with as many decimals as it needs, up to four.
public func formatAmount(_ value: Double) -> String {
    guard value.isFinite, abs(value) < 1e14 else { return "\(value)" }
    if value == value.rounded() { return String(Int64(value)) }
    var text = String(Double(Int64((value * 10_000).rounded())) / 10_000)
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}
