import Foundation
import PoolCore

/// Reads a problem from the JSON of `swap-problem.md` and validates it: every
/// error names the field (a JSON path), and the instance or node it belongs to.
/// Unknown fields are ignored.
public enum SwapProblemDecoding {
    public static func decode(_ data: Data) throws(SwapProblemError) -> SwapProblem {
        let result: Result<SwapProblem, SwapProblemError> = data.withUnsafeBytes { raw in
            let reader = JSONReader(raw.bindMemory(to: UInt8.self))
            do throws(SwapProblemError) { return .success(try read(reader)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func read(_ reader: JSONReader) throws(SwapProblemError) -> SwapProblem {
        // The maps are keyed by resource names, so find `resources` first.
        var sections: [String: Int] = [:]
        try reader.object("") { key throws(SwapProblemError) in
            sections[key.string] = reader.position
            try reader.skipValue()
        }
        try reader.end()
        func seek(_ name: String) -> Bool {
            guard let at = sections[name] else { return false }
            reader.seek(at)
            return !((try? reader.null()) ?? false)
        }

        guard seek("version") else { throw SwapProblemError(field: "version", "missing") }
        let version = try reader.number("version")
        guard version == 1 else { throw SwapProblemError(field: "version", "unsupported version \(version); this reads version 1") }

        guard seek("resources") else { throw SwapProblemError(field: "resources", "missing or empty") }
        var resources: [String] = []
        try reader.array("resources") { k throws(SwapProblemError) in
            let name = try reader.string("resources[\(k)]")
            guard !resources.contains(name) else { throw SwapProblemError(field: "resources[\(k)]", "\"\(name)\" listed twice") }
            resources.append(name)
        }
        guard !resources.isEmpty else { throw SwapProblemError(field: "resources", "missing or empty") }
        let R = resources.count
        let maps = ResourceMapReader(reader: reader, resources: resources)

        var integral = [Bool](repeating: false, count: R)
        if seek("integral") {
            try reader.array("integral") { k throws(SwapProblemError) in
                let name = try reader.string("integral[\(k)]")
                guard let r = resources.firstIndex(of: name) else {
                    throw SwapProblemError(field: "integral[\(k)]", "unknown resource \"\(name)\"")
                }
                integral[r] = true
            }
        }

        guard seek("costs") else { throw SwapProblemError(field: "costs", "missing") }
        var waste: [Double?]?, shortfall: [Double?]?, change: [Double?]?
        try reader.object("costs") { key throws(SwapProblemError) in
            if key.equals("waste") { waste = try maps.read("costs.waste") }
            else if key.equals("shortfall") { shortfall = try maps.read("costs.shortfall") }
            else if key.equals("change") { change = try maps.read("costs.change") }
            else { try reader.skipValue() }
        }
        let wasteCost = try maps.complete(waste, "costs.waste", default: nil)
        let shortfallCost = try maps.complete(shortfall, "costs.shortfall", default: nil)
        let changeCost = try maps.complete(change, "costs.change", default: nil)

        var maxChangeRead: [Double?]?
        var maxMigrations = 0
        if seek("limits") {
            try reader.object("limits") { key throws(SwapProblemError) in
                if key.equals("maxChange") { maxChangeRead = try maps.read("limits.maxChange") }
                else if key.equals("maxMigrations") {
                    let value = try reader.number("limits.maxMigrations")
                    guard value == value.rounded(), abs(value) < 1e15 else {
                        throw SwapProblemError(field: "limits.maxMigrations", "expected a whole number, not \(value)")
                    }
                    maxMigrations = Int(value)
                } else { try reader.skipValue() }
            }
        }
        let maxChange = try maps.complete(maxChangeRead, "limits.maxChange", default: .infinity, allowInfinity: true)
        guard maxMigrations >= 0 else { throw SwapProblemError(field: "limits.maxMigrations", "negative: \(maxMigrations)") }

        guard seek("nodes") else { throw SwapProblemError(field: "nodes", "missing or empty") }
        var nodeIndex: [String: Int] = [:]
        var nodeIDs: [String] = [], capacity: [Double] = [], reserve: [Double] = []
        try reader.array("nodes") { n throws(SwapProblemError) in
            var id: String?, nodeCapacity: [Double?]?, nodeReserve: [Double?]?
            try reader.object("nodes[\(n)]") { key throws(SwapProblemError) in
                if key.equals("id") { id = try reader.string("nodes[\(n)].id") }
                else if key.equals("capacity") { nodeCapacity = try maps.read("nodes[\(n)].capacity") }
                else if key.equals("reserve") { nodeReserve = try maps.read("nodes[\(n)].reserve") }
                else { try reader.skipValue() }
            }
            guard let id else { throw SwapProblemError(field: "nodes[\(n)].id", "missing") }
            func label() -> String { "nodes[\(n)] (node \"\(id)\")" }
            guard nodeIndex.updateValue(n, forKey: id) == nil else {
                throw SwapProblemError(field: "nodes[\(n)].id", "node \"\(id)\" listed twice")
            }
            let c = try maps.complete(nodeCapacity, "\(label()).capacity", default: nil)
            let s = try maps.complete(nodeReserve, "\(label()).reserve", default: 0)
            for r in 0..<R where s[r] > c[r] {
                throw SwapProblemError(field: "\(label()).reserve.\(resources[r])", "reserve \(s[r]) is above capacity \(c[r])")
            }
            nodeIDs.append(id)
            capacity += c
            reserve += s
        }
        guard !nodeIDs.isEmpty else { throw SwapProblemError(field: "nodes", "missing or empty") }

        guard seek("instances") else { throw SwapProblemError(field: "instances", "missing") }
        var seen = Set<String>()
        var instanceIDs: [String] = [], node: [Int] = []
        var allocation: [Double] = [], demand: [Double] = [], minimum: [Double] = [], maximum: [Double] = []
        var weight: [Double] = [], locked: [Bool] = [], migrationCost: [Double] = [], alternatives: [[Int]] = []
        try reader.array("instances") { i throws(SwapProblemError) in
            var id: String?, nodeID: String?
            var a: [Double?]?, d: [Double?]?, lo: [Double?]?, hi: [Double?]?
            var w: Double?, isLocked: Bool?, cost: Double?, candidates: [String]?
            func at() -> String { "instances[\(i)]" }
            try reader.object(at()) { key throws(SwapProblemError) in
                if key.equals("id") { id = try reader.string("\(at()).id") }
                else if key.equals("node") { nodeID = try reader.string("\(at()).node") }
                else if key.equals("allocation") { a = try maps.read("\(at()).allocation") }
                else if key.equals("demand") { d = try maps.read("\(at()).demand") }
                else if key.equals("min") { lo = try maps.read("\(at()).min") }
                else if key.equals("max") { hi = try maps.read("\(at()).max") }
                else if key.equals("weight") { w = try reader.null() ? nil : try reader.number("\(at()).weight") }
                else if key.equals("locked") { isLocked = try reader.null() ? nil : try reader.bool("\(at()).locked") }
                else if key.equals("migrationCost") { cost = try reader.null() ? nil : try reader.number("\(at()).migrationCost") }
                else if key.equals("candidates") {
                    var list: [String] = []
                    if try !reader.null() {
                        try reader.array("\(at()).candidates") { k throws(SwapProblemError) in
                            list.append(try reader.string("\(at()).candidates[\(k)]"))
                        }
                    }
                    candidates = list
                } else { try reader.skipValue() }
            }
            guard let id else { throw SwapProblemError(field: "\(at()).id", "missing") }
            func label() -> String { "\(at()) (instance \"\(id)\")" }
            guard seen.insert(id).inserted else { throw SwapProblemError(field: "\(at()).id", "instance \"\(id)\" listed twice") }
            guard let nodeID else { throw SwapProblemError(field: "\(label()).node", "missing") }
            guard let n = nodeIndex[nodeID] else { throw SwapProblemError(field: "\(label()).node", "unknown node \"\(nodeID)\"") }
            let current = try maps.complete(a, "\(label()).allocation", default: nil)
            let wanted = try maps.complete(d, "\(label()).demand", default: nil)
            let low = try maps.complete(lo, "\(label()).min", default: 0)
            let high = try maps.complete(hi, "\(label()).max", default: .infinity, allowInfinity: true)
            for r in 0..<R where low[r] > high[r] {
                throw SwapProblemError(field: "\(label()).min.\(resources[r])", "min \(low[r]) is above max \(high[r])")
            }
            let priority = w ?? 1
            guard priority.isFinite, priority >= 0 else {
                throw SwapProblemError(field: "\(label()).weight", "must be a finite number ≥ 0, not \(priority)")
            }
            let moveCost = cost ?? 0
            guard moveCost.isFinite, moveCost >= 0 else {
                throw SwapProblemError(field: "\(label()).migrationCost", "must be a finite number ≥ 0, not \(moveCost)")
            }
            var others: [Int] = []
            for (k, candidate) in (candidates ?? []).enumerated() {
                guard let q = nodeIndex[candidate] else {
                    throw SwapProblemError(field: "\(label()).candidates[\(k)]", "unknown node \"\(candidate)\"")
                }
                if q != n, !others.contains(q) { others.append(q) }
            }
            instanceIDs.append(id)
            node.append(n)
            allocation += current; demand += wanted; minimum += low; maximum += high
            weight.append(priority)
            locked.append(isLocked ?? false)
            migrationCost.append(moveCost)
            alternatives.append(others)
        }
        return SwapProblem(
            resources: resources, integral: integral,
            waste: wasteCost, shortfall: shortfallCost, change: changeCost,
            maxChange: maxChange, maxMigrations: maxMigrations,
            nodeIDs: nodeIDs, capacity: capacity, reserve: reserve,
            instanceIDs: instanceIDs, node: node,
            allocation: allocation, demand: demand, minimum: minimum, maximum: maximum,
            weight: weight, locked: locked, migrationCost: migrationCost, alternatives: alternatives)
    }
}

/// Reads `{"cpu": 2, "memory": 8}` maps keyed by the problem's resources.
/// A map is read as it comes (unset entries are NaN) and checked with
/// `complete` once its owner's id is known, so messages can name it.
private struct ResourceMapReader {
    let reader: JSONReader
    let resources: [String]
    let names: [[UInt8]]

    init(reader: JSONReader, resources: [String]) {
        self.reader = reader
        self.resources = resources
        names = resources.map { Array($0.utf8) }
    }

    func read(_ field: @autoclosure () -> String) throws(SwapProblemError) -> [Double?]? {
        if try reader.null() { return nil }
        var values = [Double?](repeating: nil, count: resources.count)
        try reader.object(field()) { key throws(SwapProblemError) in
            guard let r = names.firstIndex(where: { key.equals($0) }) else {
                throw SwapProblemError(field: "\(field()).\(key.string)", "unknown resource \"\(key.string)\"; resources are \(resources)")
            }
            let value = try reader.number("\(field()).\(resources[r])")
            values[r] = value
        }
        return values
    }

    func complete(_ given: [Double?]?, _ field: @autoclosure () -> String, default fill: Double?,
                  allowInfinity: Bool = false) throws(SwapProblemError) -> [Double] {
        guard let given else {
            if let fill { return [Double](repeating: fill, count: resources.count) }
            throw SwapProblemError(field: field(), "missing")
        }
        var values = [Double](repeating: 0, count: resources.count)
        for r in 0..<resources.count {
            func name() -> String { "\(field()).\(resources[r])" }
            guard let value = given[r] else {
                guard let fill else { throw SwapProblemError(field: name(), "missing resource \"\(resources[r])\"") }
                values[r] = fill
                continue
            }
            values[r] = value
            guard !value.isNaN else { throw SwapProblemError(field: name(), "NaN") }
            guard value.isFinite || (allowInfinity && value > 0) else { throw SwapProblemError(field: name(), "not finite: \(value)") }
            guard value >= 0 else { throw SwapProblemError(field: name(), "negative: \(value)") }
        }
        return values
    }
}
