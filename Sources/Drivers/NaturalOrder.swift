/// Orders names by their numbers where they have them: "2013-9" before "2013-10", "5" before "13".
func naturallyOrdered(_ lhs: String, _ rhs: String) -> Bool {
    let left = naturalKey(lhs)
    let right = naturalKey(rhs)
    for (a, b) in zip(left, right) where a != b {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y
        case (.text(let x), .text(let y)): return x < y
        case (.number, .text): return true
        case (.text, .number): return false
        }
    }
    return left.count < right.count || (left.count == right.count && lhs < rhs)
}

private enum NaturalPart: Equatable {
    case number(UInt64)
    case text(String)
}

private func naturalKey(_ name: String) -> [NaturalPart] {
    var parts: [NaturalPart] = []
    var current = ""
    var inNumber = false
    func flush() {
        guard !current.isEmpty else { return }
        parts.append(inNumber ? .number(UInt64(current.prefix(18)) ?? .max) : .text(current))
        current = ""
    }
    for character in name {
        let digit = character.isASCII && character.isNumber
        if digit != inNumber { flush(); inNumber = digit }
        current.append(character)
    }
    flush()
    return parts
}
