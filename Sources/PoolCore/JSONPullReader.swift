/// A small pull reader for JSON bytes: the caller walks the document it
/// expects, and every error carries the JSON path it was given, or the line
/// and column of a syntax error. It builds no tree, so a 100,000-instance swap
/// problem or a batch of samples reads in a fraction of what a general decoder
/// takes. The strings "NaN", "Infinity" and "-Infinity" read as numbers, so
/// that validation can name them.
public final class JSONPullReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var position = 0

    public init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Goes back to a position read earlier (the start of a value).
    public func seek(_ to: Int) { position = to }

    public enum Kind: Sendable { case object, array, string, number, bool, null }

    // MARK: Structure

    /// Calls `body` with each key of the object at `field`; `body` reads the value.
    public func object(_ field: @autoclosure () -> String, _ body: (Key) throws(FieldError) -> Void) throws(FieldError) {
        try expect(UInt8(ascii: "{"), field(), "an object")
        skipSpace()
        if peek() == UInt8(ascii: "}") { position += 1; return }
        while true {
            skipSpace()
            guard peek() == UInt8(ascii: "\"") else { throw syntax("expected a key in quotes") }
            let key = try rawString()
            skipSpace()
            guard peek() == UInt8(ascii: ":") else { throw syntax("expected ':' after a key") }
            position += 1
            try body(key)
            skipSpace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return
            default: throw syntax("expected ',' or '}' in an object")
            }
        }
    }

    /// Calls `body` with the index of each element of the array at `field`.
    public func array(_ field: @autoclosure () -> String, _ body: (Int) throws(FieldError) -> Void) throws(FieldError) {
        try expect(UInt8(ascii: "["), field(), "an array")
        skipSpace()
        if peek() == UInt8(ascii: "]") { position += 1; return }
        var index = 0
        while true {
            try body(index)
            index += 1
            skipSpace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return
            default: throw syntax("expected ',' or ']' in an array")
            }
        }
    }

    public func kind() throws(FieldError) -> Kind {
        skipSpace()
        switch peek() {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case .some(let c) where c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")): return .number
        default: throw syntax("expected a value")
        }
    }

    public func skipValue() throws(FieldError) {
        switch try kind() {
        case .object: try object("") { _ throws(FieldError) in try skipValue() }
        case .array: try array("") { _ throws(FieldError) in try skipValue() }
        case .string: _ = try rawString()
        case .number: _ = try number("")
        case .bool: _ = try bool("")
        case .null: try literal("null")
        }
    }

    /// Checks that only whitespace follows the document.
    public func end() throws(FieldError) {
        skipSpace()
        guard position == bytes.count else { throw syntax("unexpected text after the document") }
    }

    // MARK: Values

    /// A number; the strings "NaN", "Infinity" and "-Infinity" also read as numbers
    /// so that validation can name them.
    public func number(_ field: @autoclosure () -> String) throws(FieldError) -> Double {
        skipSpace()
        if peek() == UInt8(ascii: "\"") {
            let text = try rawString()
            if text.equals("NaN") { return .nan }
            if text.equals("Infinity") { return .infinity }
            if text.equals("-Infinity") { return -.infinity }
            throw FieldError(field: field(), "expected a number, found the string \"\(text.string)\"")
        }
        if peek() == UInt8(ascii: "N") || peek() == UInt8(ascii: "I") { throw syntax("bare \(peek() == UInt8(ascii: "N") ? "NaN" : "Infinity") is not JSON") }
        let start = position
        var negative = false
        if peek() == UInt8(ascii: "-") { negative = true; position += 1 }
        var mantissa: UInt64 = 0, digits = 0, exponent = 0
        while let c = peek(), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(c - UInt8(ascii: "0")); digits += mantissa == 0 ? 0 : 1 } else { exponent += 1 }
            position += 1
        }
        guard position > start + (negative ? 1 : 0) else {
            if let kind = try? kind() { throw FieldError(field: field(), "expected a number, found \(kind)") }
            throw syntax("expected a number")
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            let fractionStart = position
            while let c = peek(), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(c - UInt8(ascii: "0")); digits += mantissa == 0 ? 0 : 1; exponent -= 1 }
                position += 1
            }
            guard position > fractionStart else { throw syntax("expected digits after '.'") }
        }
        if let c = peek(), c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            position += 1
            var exponentNegative = false
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { exponentNegative = sign == UInt8(ascii: "-"); position += 1 }
            var value = 0, any = false
            while let c = peek(), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                value = min(value * 10 + Int(c - UInt8(ascii: "0")), 100_000); any = true
                position += 1
            }
            guard any else { throw syntax("expected digits in an exponent") }
            exponent += exponentNegative ? -value : value
        }
        // Exact when the digits fit a double's mantissa and 10^|exponent| is exact.
        if mantissa < (1 << 53), abs(exponent) <= 22, digits < 19 {
            let m = Double(mantissa)
            let value = exponent >= 0 ? m * Self.powers[exponent] : m / Self.powers[-exponent]
            return negative ? -value : value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text) else { throw syntax("malformed number \(text)") }
        return value
    }

    private static let powers: [Double] = (0...22).map { (0..<$0).reduce(1.0) { value, _ in value * 10 } }

    public func string(_ field: @autoclosure () -> String) throws(FieldError) -> String {
        skipSpace()
        guard peek() == UInt8(ascii: "\"") else {
            throw FieldError(field: field(), "expected a string, found \(try kind())")
        }
        return try rawString().string
    }

    public func bool(_ field: @autoclosure () -> String) throws(FieldError) -> Bool {
        skipSpace()
        if peek() == UInt8(ascii: "t") { try literal("true"); return true }
        if peek() == UInt8(ascii: "f") { try literal("false"); return false }
        throw FieldError(field: field(), "expected true or false, found \(try kind())")
    }

    /// True (and consumed) when the next value is `null`.
    public func null() throws(FieldError) -> Bool {
        skipSpace()
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    // MARK: Keys and strings

    /// A string as it stands in the document; unescaped only when asked for.
    public struct Key {
        public let bytes: UnsafeBufferPointer<UInt8>
        public let escaped: Bool

        public func equals(_ text: StaticString) -> Bool {
            if escaped { return string.utf8.elementsEqual(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)) }
            guard bytes.count == text.utf8CodeUnitCount else { return false }
            return memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0
        }

        public func equals(_ text: [UInt8]) -> Bool {
            guard !escaped else { return string.utf8.elementsEqual(text) }
            return bytes.elementsEqual(text)
        }

        public var string: String {
            guard escaped else { return String(decoding: bytes, as: UTF8.self) }
            return JSONPullReader.unescape(bytes)
        }
    }

    private func rawString() throws(FieldError) -> Key {
        position += 1
        let start = position
        var escaped = false
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                let key = Key(bytes: UnsafeBufferPointer(rebasing: bytes[start..<position]), escaped: escaped)
                position += 1
                return key
            }
            if c == UInt8(ascii: "\\") { escaped = true; position += 2; continue }
            if c < 0x20 { throw syntax("control character in a string") }
            position += 1
        }
        throw syntax("unterminated string")
    }

    fileprivate static func unescape(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c == UInt8(ascii: "\\"), i + 1 < bytes.count else { out.append(c); i += 1; continue }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "u"):
                var code = hex(bytes, at: i)
                i += 4
                // A UTF-16 surrogate pair is two escapes.
                if let high = code, (0xD800...0xDBFF).contains(high), i + 6 <= bytes.count,
                   bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                   let low = hex(bytes, at: i + 2), (0xDC00...0xDFFF).contains(low) {
                    code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                let scalar = code.flatMap(Unicode.Scalar.init) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt32? {
        guard i + 4 <= bytes.count else { return nil }
        return UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<(i + 4)]), as: UTF8.self), radix: 16)
    }

    // MARK: Plumbing

    @inline(__always) private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    @inline(__always) private func skipSpace() {
        while position < bytes.count {
            let c = bytes[position]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            position += 1
        }
    }

    private func expect(_ byte: UInt8, _ field: String, _ what: String) throws(FieldError) {
        skipSpace()
        guard peek() == byte else {
            throw FieldError(field: field.isEmpty ? "(document)" : field, "expected \(what), found \(try kind())")
        }
        position += 1
    }

    private func literal(_ text: StaticString) throws(FieldError) {
        let n = text.utf8CodeUnitCount
        guard position + n <= bytes.count, memcmp(bytes.baseAddress! + position, text.utf8Start, n) == 0 else {
            throw syntax("expected \(text)")
        }
        position += n
    }

    /// A syntax error at the current position, by line and column.
    public func syntax(_ message: String) -> FieldError {
        var line = 1, column = 1
        for i in 0..<min(position, bytes.count) {
            if bytes[i] == 0x0A { line += 1; column = 1 } else { column += 1 }
        }
        return FieldError(field: "(document)", "not valid JSON at line \(line), column \(column): \(message)")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
