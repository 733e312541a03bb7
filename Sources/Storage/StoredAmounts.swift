/// How both stores keep per-resource amounts: exactly three (cpu, memory, gpu)
/// in columns, and a swap's before/after as comma-separated text.
enum StoredAmounts {
    static func checked(_ values: [Double], _ what: String) throws -> [Double] {
        guard values.count == 3 else { throw StoreError("\(what) needs 3 values (cpu, memory, gpu), got \(values.count)") }
        return values
    }

    static func text(_ values: [Double]) -> String { values.map { "\($0)" }.joined(separator: ",") }
    static func values(_ text: String) -> [Double] { text.split(separator: ",").compactMap { Double($0) } }
}
