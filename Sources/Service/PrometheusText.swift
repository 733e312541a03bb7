import Foundation

/// Prometheus' text exposition format (version 0.0.4), built family by family.
struct PrometheusText {
    private(set) var text = ""

    struct Family {
        let name: String
        var lines = ""
        mutating func sample(_ labels: [String: String], _ value: Double) {
            let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",")
            lines += name + (rendered.isEmpty ? "" : "{\(rendered)}") + " " + Self.number(value) + "\n"
        }
        static func escape(_ value: String) -> String {
            value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
        }
        static func number(_ value: Double) -> String {
            value.isNaN ? "NaN" : value == .infinity ? "+Inf" : value == -.infinity ? "-Inf" : "\(value)"
        }
    }

    mutating func family(_ name: String, _ type: String, _ help: String, _ fill: (inout Family) -> Void) {
        var family = Family(name: name)
        fill(&family)
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" + family.lines
    }
}
