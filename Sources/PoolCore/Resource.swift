/// A kind of capacity the pool hands out.
///
/// Units: `cpu` in cores, `memory` in GiB, `gpu` in whole devices.
public enum Resource: Int, CaseIterable, Sendable, Hashable, Codable, CustomStringConvertible {
    case cpu = 0
    case memory = 1
    case gpu = 2

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .memory: "memory"
        case .gpu: "gpu"
        }
    }

    /// The unit of an amount of this resource, as printed in messages and tables.
    public var unit: String {
        switch self {
        case .cpu: "cores"
        case .memory: "GiB"
        case .gpu: "devices"
        }
    }

    /// The unit of this resource held over time (an amount times hours).
    public var hourUnit: String {
        switch self {
        case .cpu: "core-h"
        case .memory: "GiB-h"
        case .gpu: "device-h"
        }
    }

    public init?(name: String) {
        guard let match = Resource.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}
