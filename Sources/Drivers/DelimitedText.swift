/// Splits text into lines and delimiter-separated fields without copying: each field is a
/// byte range, trimmed of spaces, tabs and carriage returns.
struct DelimitedText {
    let bytes: UnsafeBufferPointer<UInt8>
    let delimiter: UInt8

    /// Calls `body` with the 1-based line number and the field ranges of every non-empty line.
    /// `fields` is reused from line to line; `body` returns false to stop early.
    func forEachLine(_ body: (_ line: Int, _ fields: [Range<Int>]) throws(TraceError) -> Bool) throws(TraceError) {
        var fields: [Range<Int>] = []
        fields.reserveCapacity(16)
        var lineNumber = 0
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < count, bytes[lineEnd] != 10 { lineEnd += 1 }
            fields.removeAll(keepingCapacity: true)
            var fieldStart = lineStart
            var position = lineStart
            while position <= lineEnd {
                if position == lineEnd || bytes[position] == delimiter {
                    fields.append(trimmed(fieldStart, position))
                    fieldStart = position + 1
                }
                position += 1
            }
            let blank = fields.count == 1 && fields[0].isEmpty
            if !blank, try !body(lineNumber, fields) { return }
            lineStart = lineEnd + 1
        }
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    func number(_ range: Range<Int>) -> Double? {
        DecimalParser.parse(bytes, range.lowerBound, range.upperBound)
    }

    private func trimmed(_ start: Int, _ end: Int) -> Range<Int> {
        var low = start
        var high = end
        while low < high, Self.isSpace(bytes[low]) { low += 1 }
        while high > low, Self.isSpace(bytes[high - 1]) { high -= 1 }
        return low..<high
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 13 }
}
