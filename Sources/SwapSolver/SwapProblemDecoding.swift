import Foundation

/// Reads a problem from the JSON of `swap-problem.md` and validates it: every
/// error names the field, and the instance or node it belongs to.
public enum SwapProblemDecoding {
    public static func decode(_ data: Data) throws(SwapProblemError) -> SwapProblem {
        let raw: RawProblem
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(
                positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
            raw = try decoder.decode(RawProblem.self, from: data)
        } catch let error as DecodingError {
            throw decodingError(error)
        } catch {
            throw SwapProblemError(field: "(document)", "not valid JSON: \(error)")
        }
        return try validate(raw)
    }

    struct RawProblem: Decodable {
        var version: Int?
        var resources: [String]?
        var integral: [String]?
        var costs: RawCosts?
        var limits: RawLimits?
        var nodes: [RawNode]?
        var instances: [RawInstance]?
    }

    struct RawCosts: Decodable {
        var waste: [String: Double]?
        var shortfall: [String: Double]?
        var change: [String: Double]?
    }

    struct RawLimits: Decodable {
        var maxChange: [String: Double]?
        var maxMigrations: Int?
    }

    struct RawNode: Decodable {
        var id: String?
        var capacity: [String: Double]?
        var reserve: [String: Double]?
    }

    struct RawInstance: Decodable {
        var id: String?
        var node: String?
        var allocation: [String: Double]?
        var demand: [String: Double]?
        var min: [String: Double]?
        var max: [String: Double]?
        var weight: Double?
        var locked: Bool?
        var migrationCost: Double?
        var candidates: [String]?
    }

    static func decodingError(_ error: DecodingError) -> SwapProblemError {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text.isEmpty ? "(document)" : text
        }
        switch error {
        case .typeMismatch(let type, let context):
            return SwapProblemError(field: path(context.codingPath), "expected \(type)")
        case .valueNotFound(let type, let context):
            return SwapProblemError(field: path(context.codingPath), "expected \(type), found null")
        case .keyNotFound(let key, let context):
            return SwapProblemError(field: path(context.codingPath + [key]), "missing")
        case .dataCorrupted(let context):
            let detail = (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
            return SwapProblemError(field: path(context.codingPath), "not valid JSON: \(detail)")
        @unknown default:
            return SwapProblemError(field: "(document)", "\(error)")
        }
    }

    static func validate(_ raw: RawProblem) throws(SwapProblemError) -> SwapProblem {
        guard let version = raw.version else { throw SwapProblemError(field: "version", "missing") }
        guard version == 1 else { throw SwapProblemError(field: "version", "unsupported version \(version); this reads version 1") }
        guard let resources = raw.resources, !resources.isEmpty else {
            throw SwapProblemError(field: "resources", "missing or empty")
        }
        var resourceIndex: [String: Int] = [:]
        for (r, name) in resources.enumerated() {
            guard resourceIndex.updateValue(r, forKey: name) == nil else {
                throw SwapProblemError(field: "resources[\(r)]", "\"\(name)\" listed twice")
            }
        }
        let R = resources.count
        var integral = [Bool](repeating: false, count: R)
        for (k, name) in (raw.integral ?? []).enumerated() {
            guard let r = resourceIndex[name] else {
                throw SwapProblemError(field: "integral[\(k)]", "unknown resource \"\(name)\"")
            }
            integral[r] = true
        }

        func vector(_ map: [String: Double]?, _ field: String, default fill: Double?,
                    allowInfinity: Bool = false) throws(SwapProblemError) -> [Double] {
            var out = [Double](repeating: fill ?? .nan, count: R)
            guard let map else {
                if fill != nil { return out }
                throw SwapProblemError(field: field, "missing")
            }
            for (name, value) in map {
                guard let r = resourceIndex[name] else {
                    throw SwapProblemError(field: "\(field).\(name)", "unknown resource \"\(name)\"; resources are \(resources)")
                }
                guard !value.isNaN else { throw SwapProblemError(field: "\(field).\(name)", "NaN") }
                guard value.isFinite || (allowInfinity && value > 0) else {
                    throw SwapProblemError(field: "\(field).\(name)", "not finite: \(value)")
                }
                guard value >= 0 else { throw SwapProblemError(field: "\(field).\(name)", "negative: \(value)") }
                out[r] = value
            }
            if fill == nil, let r = out.firstIndex(where: { $0.isNaN }) {
                throw SwapProblemError(field: "\(field).\(resources[r])", "missing resource \"\(resources[r])\"")
            }
            return out
        }

        guard let costs = raw.costs else { throw SwapProblemError(field: "costs", "missing") }
        let waste = try vector(costs.waste, "costs.waste", default: nil)
        let shortfall = try vector(costs.shortfall, "costs.shortfall", default: nil)
        let change = try vector(costs.change, "costs.change", default: nil)
        let maxChange = try vector(raw.limits?.maxChange, "limits.maxChange", default: .infinity, allowInfinity: true)
        let maxMigrations = raw.limits?.maxMigrations ?? 0
        guard maxMigrations >= 0 else {
            throw SwapProblemError(field: "limits.maxMigrations", "negative: \(maxMigrations)")
        }

        guard let rawNodes = raw.nodes, !rawNodes.isEmpty else { throw SwapProblemError(field: "nodes", "missing or empty") }
        var nodeIndex: [String: Int] = [:]
        nodeIndex.reserveCapacity(rawNodes.count)
        var nodeIDs: [String] = []
        var capacity: [Double] = []
        var reserve: [Double] = []
        nodeIDs.reserveCapacity(rawNodes.count)
        capacity.reserveCapacity(rawNodes.count * R)
        reserve.reserveCapacity(rawNodes.count * R)
        for (n, node) in rawNodes.enumerated() {
            guard let id = node.id else { throw SwapProblemError(field: "nodes[\(n)].id", "missing") }
            let label = "nodes[\(n)] (node \"\(id)\")"
            guard nodeIndex.updateValue(n, forKey: id) == nil else {
                throw SwapProblemError(field: "nodes[\(n)].id", "node \"\(id)\" listed twice")
            }
            nodeIDs.append(id)
            capacity += try vector(node.capacity, "\(label).capacity", default: nil)
            let nodeReserve = try vector(node.reserve, "\(label).reserve", default: 0)
            for r in 0..<R where nodeReserve[r] > capacity[n * R + r] {
                throw SwapProblemError(field: "\(label).reserve.\(resources[r])",
                                       "reserve \(nodeReserve[r]) is above capacity \(capacity[n * R + r])")
            }
            reserve += nodeReserve
        }

        guard let rawInstances = raw.instances else { throw SwapProblemError(field: "instances", "missing") }
        let m = rawInstances.count
        var instanceIDs: [String] = []
        var seen = Set<String>()
        var node: [Int] = []
        var allocation: [Double] = [], demand: [Double] = [], minimum: [Double] = [], maximum: [Double] = []
        var weight: [Double] = [], locked: [Bool] = [], migrationCost: [Double] = [], alternatives: [[Int]] = []
        instanceIDs.reserveCapacity(m); seen.reserveCapacity(m); node.reserveCapacity(m)
        allocation.reserveCapacity(m * R); demand.reserveCapacity(m * R)
        minimum.reserveCapacity(m * R); maximum.reserveCapacity(m * R)
        weight.reserveCapacity(m); locked.reserveCapacity(m); migrationCost.reserveCapacity(m); alternatives.reserveCapacity(m)
        for (i, instance) in rawInstances.enumerated() {
            guard let id = instance.id else { throw SwapProblemError(field: "instances[\(i)].id", "missing") }
            let label = "instances[\(i)] (instance \"\(id)\")"
            guard seen.insert(id).inserted else {
                throw SwapProblemError(field: "instances[\(i)].id", "instance \"\(id)\" listed twice")
            }
            guard let nodeID = instance.node else { throw SwapProblemError(field: "\(label).node", "missing") }
            guard let n = nodeIndex[nodeID] else {
                throw SwapProblemError(field: "\(label).node", "unknown node \"\(nodeID)\"")
            }
            let a = try vector(instance.allocation, "\(label).allocation", default: nil)
            let d = try vector(instance.demand, "\(label).demand", default: nil)
            let lo = try vector(instance.min, "\(label).min", default: 0)
            let hi = try vector(instance.max, "\(label).max", default: .infinity, allowInfinity: true)
            for r in 0..<R where lo[r] > hi[r] {
                throw SwapProblemError(field: "\(label).min.\(resources[r])",
                                       "min \(lo[r]) is above max \(hi[r])")
            }
            let w = instance.weight ?? 1
            guard w.isFinite, w >= 0 else { throw SwapProblemError(field: "\(label).weight", "must be a finite number ≥ 0, not \(w)") }
            let c = instance.migrationCost ?? 0
            guard c.isFinite, c >= 0 else { throw SwapProblemError(field: "\(label).migrationCost", "must be a finite number ≥ 0, not \(c)") }
            var others: [Int] = []
            for (k, candidate) in (instance.candidates ?? []).enumerated() {
                guard let q = nodeIndex[candidate] else {
                    throw SwapProblemError(field: "\(label).candidates[\(k)]", "unknown node \"\(candidate)\"")
                }
                if q != n, !others.contains(q) { others.append(q) }
            }
            instanceIDs.append(id)
            node.append(n)
            allocation += a; demand += d; minimum += lo; maximum += hi
            weight.append(w)
            locked.append(instance.locked ?? false)
            migrationCost.append(c)
            alternatives.append(others)
        }
        return SwapProblem(
            resources: resources, integral: integral,
            waste: waste, shortfall: shortfall, change: change,
            maxChange: maxChange, maxMigrations: maxMigrations,
            nodeIDs: nodeIDs, capacity: capacity, reserve: reserve,
            instanceIDs: instanceIDs, node: node,
            allocation: allocation, demand: demand, minimum: minimum, maximum: maximum,
            weight: weight, locked: locked, migrationCost: migrationCost, alternatives: alternatives)
    }
}
