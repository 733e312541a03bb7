import Foundation
import PoolCore

/// The solution JSON of `swap-problem.md`: written by `poolswap recommend`,
/// read back by `recommend --check`.
public enum SwapSolutionCoding {
    /// The solution as JSON; `explanations` adds a field beyond the spec.
    public static func encode(_ solution: SwapSolution, problem: SwapProblem,
                              explanations: [SwapExplanation]? = nil) -> String {
        var out = "{\n\"version\":1,\n\"status\":\"\(solution.status.rawValue)\",\n"
        if solution.status != .infeasible {
            out += "\"objective\":\(number(solution.objective)),\n"
            if solution.status == .feasible, solution.gap.isFinite {
                out += "\"gap\":\(number(solution.gap)),\n\"lowerBound\":\(number(solution.lowerBound)),\n"
            }
        }
        if let reason = solution.reason { out += "\"reason\":\(quoted(reason)),\n" }
        if let explanations {
            out += "\"explanations\":[\n"
            out += explanations.map { $0.json }.joined(separator: ",\n")
            out += "\n],\n"
        }
        out += "\"instances\":[\n"
        let R = problem.resourceCount
        out.reserveCapacity(out.utf8.count + problem.instanceCount * (60 + 24 * R))
        for i in 0..<problem.instanceCount {
            if i > 0 { out += ",\n" }
            out += "{\"id\":\(quoted(problem.instanceIDs[i])),\"node\":\(quoted(problem.nodeIDs[solution.node[i]])),\"allocation\":{"
            for r in 0..<R {
                if r > 0 { out += "," }
                out += "\(quoted(problem.resources[r])):\(number(solution.allocation[i * R + r]))"
            }
            out += "}}"
        }
        out += "\n]\n}\n"
        return out
    }

    /// Reads a solution's nodes and allocations for `problem`; every instance
    /// of the problem must appear once.
    public static func decode(_ data: Data, problem: SwapProblem) throws(SwapProblemError) -> (node: [Int], allocation: [Double]) {
        let result: Result<([Int], [Double]), SwapProblemError> = data.withUnsafeBytes { raw in
            let reader = JSONReader(raw.bindMemory(to: UInt8.self))
            do throws(SwapProblemError) { return .success(try read(reader, problem)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func read(_ reader: JSONReader, _ problem: SwapProblem) throws(SwapProblemError) -> ([Int], [Double]) {
        let R = problem.resourceCount
        var instanceIndex: [String: Int] = [:]
        for (i, id) in problem.instanceIDs.enumerated() { instanceIndex[id] = i }
        var nodeIndex: [String: Int] = [:]
        for (n, id) in problem.nodeIDs.enumerated() { nodeIndex[id] = n }
        var node = [Int](repeating: -1, count: problem.instanceCount)
        var allocation = [Double](repeating: .nan, count: problem.instanceCount * R)
        var sawInstances = false
        try reader.object("") { key throws(SwapProblemError) in
            guard key.equals("instances") else { try reader.skipValue(); return }
            sawInstances = true
            try reader.array("instances") { k throws(SwapProblemError) in
                let field = "instances[\(k)]"
                var id: String?, nodeID: String?
                var amounts = [Double?](repeating: nil, count: R)
                try reader.object(field) { key throws(SwapProblemError) in
                    if key.equals("id") { id = try reader.string("\(field).id") }
                    else if key.equals("node") { nodeID = try reader.string("\(field).node") }
                    else if key.equals("allocation") {
                        try reader.object("\(field).allocation") { name throws(SwapProblemError) in
                            guard let r = problem.resources.firstIndex(of: name.string) else {
                                throw SwapProblemError(field: "\(field).allocation.\(name.string)", "unknown resource")
                            }
                            amounts[r] = try reader.number("\(field).allocation.\(name.string)")
                        }
                    } else { try reader.skipValue() }
                }
                guard let id else { throw SwapProblemError(field: "\(field).id", "missing") }
                guard let i = instanceIndex[id] else { throw SwapProblemError(field: "\(field).id", "instance \"\(id)\" is not in the problem") }
                guard node[i] < 0 else { throw SwapProblemError(field: "\(field).id", "instance \"\(id)\" listed twice") }
                guard let nodeID, let n = nodeIndex[nodeID] else {
                    throw SwapProblemError(field: "\(field).node", "instance \"\(id)\": unknown or missing node \(nodeID.map { "\"\($0)\"" } ?? "")")
                }
                node[i] = n
                for r in 0..<R {
                    guard let value = amounts[r] else {
                        throw SwapProblemError(field: "\(field).allocation.\(problem.resources[r])", "instance \"\(id)\": missing")
                    }
                    allocation[i * R + r] = value
                }
            }
        }
        try reader.end()
        guard sawInstances else { throw SwapProblemError(field: "instances", "missing") }
        if let missing = node.firstIndex(of: -1) {
            throw SwapProblemError(field: "instances", "instance \"\(problem.instanceIDs[missing])\" is missing")
        }
        return (node, allocation)
    }

    static func number(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "null" : (x > 0 ? "1e308" : "-1e308") }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
